//! Logging. Logs go to standard error; standard output is kept for command results.
//!
//! A request only formats its log line: writing it is the job of one background thread
//! ([`LogWriter`]). Written on the request path, the per-request `info` line cost a quarter of
//! SCIM GET throughput (a system call and the stderr lock per line, under 32 clients).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};

/// Lines waiting for the writer at most. A flood that outruns standard error loses lines
/// (counted, and reported in the log) instead of memory or request latency.
const QUEUE: usize = 65_536;
/// How long the writer lets lines gather after a write: at most this much later on screen,
/// far below what fills the queue (65,536 lines in 2 ms would be 33 million a second).
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

/// Keeps the writer running; dropping it writes what is queued and stops the thread.
pub struct Guard {
    sender: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // The subscriber keeps a sender too; this one's drop does not end the channel, so
        // ask the thread to finish explicitly with an empty line.
        if let Some(s) = self.sender.take() {
            let _ = s.send(Vec::new());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `daemon` selects the configured level; one-shot commands log warnings only unless the
/// level is set explicitly, so their output stays readable.
pub fn init(config: &LogConfig, daemon: bool) -> Guard {
    let level = if daemon || config.level != "info" {
        config.level.as_str()
    } else {
        "warn"
    };
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = LogWriter::start();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    let result = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Err(e) = result {
        eprintln!("tapbridge: logging not initialised: {e}");
    }
    guard
}

/// Hands formatted lines to the writer thread.
#[derive(Clone)]
struct LogWriter {
    sender: SyncSender<Vec<u8>>,
    dropped: Arc<AtomicU64>,
}

impl LogWriter {
    fn start() -> (LogWriter, Guard) {
        let (sender, receiver) = sync_channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_lines(&receiver, &counter))
            .ok();
        (
            LogWriter {
                sender: sender.clone(),
                dropped,
            },
            Guard {
                sender: Some(sender),
                thread,
            },
        )
    }
}

/// Writes lines as they come, a batch at a time: whatever is queued goes out in one write
/// when the queue runs empty. Standard error is locked only for that write, so the rest of
/// the process (`eprintln!`) is never kept waiting.
fn write_lines(receiver: &Receiver<Vec<u8>>, dropped: &AtomicU64) {
    let mut batch = Vec::with_capacity(64 * 1024);
    let mut done = false;
    while !done {
        match receiver.recv() {
            Ok(line) if line.is_empty() => done = true,
            Ok(line) => batch.extend_from_slice(&line),
            Err(_) => done = true,
        }
        while !done && batch.len() < 1 << 20 {
            match receiver.try_recv() {
                Ok(line) if line.is_empty() => done = true,
                Ok(line) => batch.extend_from_slice(&line),
                Err(_) => break,
            }
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = writeln!(
                batch,
                "tapbridge: {lost} log lines dropped: standard error was not read fast enough"
            );
        }
        if !batch.is_empty() {
            let _ = std::io::stderr().lock().write_all(&batch);
            batch.clear();
            if !done {
                // Let the next lines gather before looking again. A writer waiting on the
                // queue is woken by every line sent (a futex wake and a thread switch per
                // request under load, on the request's own thread); one that sleeps here is
                // not, and finds them all at once. An idle daemon still blocks in `recv`.
                std::thread::sleep(GATHER);
            }
        }
    }
}

/// One event's bytes, sent when the formatter is done with it.
struct Line {
    buf: Vec<u8>,
    writer: LogWriter,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        match self.writer.sender.try_send(std::mem::take(&mut self.buf)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.writer.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The writer is gone (shutting down): write directly.
            Err(TrySendError::Disconnected(line)) => {
                let _ = std::io::stderr().write_all(&line);
            }
        }
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            buf: Vec::with_capacity(256),
            writer: self.clone(),
        }
    }
}
