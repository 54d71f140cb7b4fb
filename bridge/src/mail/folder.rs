//! The `.eml` folder transport: each message becomes `<name>.eml` (mode 0600: it holds a
//! pass) in a folder another program picks up from.
//!
//! A message is written and flushed to disk before it has a name — on Linux into an unnamed
//! `O_TMPFILE` that vanishes if tapbridge dies — and is handed over by linking it in under a
//! temporary name and renaming that into place, two system calls apart. A reader never sees
//! half a message, and a crash leaves at most a complete temporary file, which the next start
//! removes ([`Folder::remove_temporary_files`]). An outbox message is always written under the
//! same name: an attempt after one whose outcome a crash left unknown replaces its file.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::transport::{Accepted, Refused};

pub struct Folder {
    dir: PathBuf,
}

/// A message written to disk but not yet visible in the folder.
pub struct Staged {
    dir: PathBuf,
    name: String,
    file: File,
    /// `None`: an unnamed file (`O_TMPFILE`); `Some`: the fallback's temporary name.
    temporary: Option<PathBuf>,
}

fn temporary(reason: String) -> Refused {
    Refused {
        permanent: false,
        unconfirmed: false,
        reason,
    }
}

/// `.<name>.<random>.tmp`: hidden from readers that skip dot files, recognisable at start-up.
fn temporary_name(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()))
}

fn is_temporary(file_name: &str) -> bool {
    file_name.starts_with('.') && file_name.ends_with(".tmp")
}

impl Folder {
    pub fn new(dir: &Path) -> Result<Folder, String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create mail folder `{}`: {e}", dir.display()))?;
        Ok(Folder {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the temporary files of writers that died (each may hold a pass). Run it at
    /// start, before anything is delivered: a live writer's temporary file exists only for
    /// the moment between linking and renaming (or, without `O_TMPFILE`, while it is written).
    pub fn remove_temporary_files(&self) -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            if is_temporary(&entry.file_name().to_string_lossy()) && entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Writes `bytes` for `<name>.eml` and flushes them to disk, without making them visible.
    pub async fn stage(&self, name: &str, bytes: Vec<u8>) -> Result<Staged, Refused> {
        let (dir, name) = (self.dir.clone(), name.to_owned());
        tokio::task::spawn_blocking(move || -> std::io::Result<Staged> {
            let (mut file, temporary) = match unnamed(&dir)? {
                Some(file) => (file, None),
                None => {
                    let path = temporary_name(&dir, &name);
                    let file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&path)?;
                    (file, Some(path))
                }
            };
            let written = file.write_all(&bytes).and_then(|()| file.sync_all());
            if let Err(e) = written {
                if let Some(path) = &temporary {
                    let _ = std::fs::remove_file(path);
                }
                return Err(e);
            }
            Ok(Staged {
                dir,
                name,
                file,
                temporary,
            })
        })
        .await
        .map_err(|e| temporary(format!("file writer failed: {e}")))?
        .map_err(|e| temporary(format!("cannot write the message file: {e}")))
    }
}

/// An unnamed file in `dir`, or `None` where the OS or file system has no `O_TMPFILE`.
#[cfg(target_os = "linux")]
fn unnamed(dir: &Path) -> std::io::Result<Option<File>> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
    match rustix::fs::open(dir, flags, Mode::from_raw_mode(0o600)) {
        Ok(fd) => Ok(Some(File::from(fd))),
        // EOPNOTSUPP: the file system has none; EISDIR / EINVAL: a kernel that predates it.
        Err(e)
            if e == rustix::io::Errno::OPNOTSUPP
                || e == rustix::io::Errno::ISDIR
                || e == rustix::io::Errno::INVAL =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn unnamed(_dir: &Path) -> std::io::Result<Option<File>> {
    Ok(None)
}

/// Gives an unnamed file the name `path`.
#[cfg(target_os = "linux")]
fn link(file: &File, path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc link does not (open(2)).
    let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(
        rustix::fs::CWD,
        proc.as_str(),
        rustix::fs::CWD,
        path,
        rustix::fs::AtFlags::SYMLINK_FOLLOW,
    )?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn link(_file: &File, _path: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("unnamed files are Linux-only"))
}

impl Staged {
    /// Makes the message visible as `<name>.eml`, replacing a file of that name, and flushes
    /// the folder so the name survives a power loss too.
    pub async fn hand_over(self) -> Result<Accepted, Refused> {
        let file_name = format!("{}.eml", self.name);
        let reply = format!("written to {file_name}");
        let renamed = tokio::task::spawn_blocking(move || -> Result<(), Refused> {
            let target = self.dir.join(&file_name);
            let from = match &self.temporary {
                Some(path) => path.clone(),
                None => {
                    let path = temporary_name(&self.dir, &self.name);
                    link(&self.file, &path)
                        .map_err(|e| temporary(format!("cannot name the message file: {e}")))?;
                    path
                }
            };
            if let Err(e) = std::fs::rename(&from, &target) {
                let _ = std::fs::remove_file(&from);
                return Err(temporary(format!("cannot name the message file: {e}")));
            }
            // Visible now: whatever goes wrong from here, the message may be read.
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Refused {
                    permanent: false,
                    unconfirmed: true,
                    reason: format!("cannot flush the mail folder: {e}"),
                })
        })
        .await
        .map_err(|e| Refused {
            permanent: false,
            unconfirmed: true,
            reason: format!("file writer failed: {e}"),
        })?;
        renamed.map(|()| Accepted { reply })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Not handed over (or the rename failed): a named temporary file must not linger
        // with its pass. An unnamed one disappears with the descriptor.
        if let Some(path) = &self.temporary {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_staged_message_is_invisible_until_handed_over_then_replaces_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::new(&dir.path().join("out")).unwrap();
        let staged = folder.stage("m1", b"first".to_vec()).await.unwrap();
        if cfg!(target_os = "linux") {
            assert!(files(folder.dir()).is_empty(), "unnamed until handed over");
        }
        assert_eq!(staged.hand_over().await.unwrap().reply, "written to m1.eml");
        // A second attempt for the same message replaces the file.
        let again = folder.stage("m1", b"second".to_vec()).await.unwrap();
        again.hand_over().await.unwrap();
        assert_eq!(files(folder.dir()), ["m1.eml"]);
        let path = folder.dir().join("m1.eml");
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Dropped without a hand-over: nothing stays behind.
        drop(folder.stage("m2", b"never".to_vec()).await.unwrap());
        assert_eq!(files(folder.dir()), ["m1.eml"]);
    }

    #[test]
    fn leftover_temporary_files_are_removed_and_messages_kept() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::new(dir.path()).unwrap();
        for name in [
            ".m1.abc.tmp",
            ".other.tmp",
            "m2.eml",
            "notes.tmp",
            ".hidden",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        assert_eq!(folder.remove_temporary_files().unwrap(), 2);
        assert_eq!(files(dir.path()), [".hidden", "m2.eml", "notes.tmp"]);
    }
}
