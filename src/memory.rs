//! How the process uses glibc's allocator.

/// glibc gives every thread that finds the allocator busy an arena of its own, up to eight
/// per core, and each arena keeps what was freed in it. A sync allocates on tokio's workers,
/// SQLite's connection threads and the blocking pool: at 100,000 users the first load peaked
/// at 184 MiB with the default, and 147 MiB with two arenas (one run each on the 2-core bench
/// machine). One arena per core keeps that bound and spares the workers contention.
/// `MALLOC_ARENA_MAX` in the environment still decides when it is set.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = i32::try_from(cores.max(2)).unwrap_or(i32::MAX);
        // SAFETY: `mallopt` sets one allocator tunable; nothing else runs yet (first line of
        // `main`, before any thread is spawned).
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
