//! The end of a read, as a pure function: whether the guard lets the run deprovision those
//! who left the directory (the imported users the read did not see, found by
//! `Executor::unseen_users`). Nothing here reads or writes.
//!
//! Destructive steps (disabling or removing someone) are never applied while the directory is
//! still being read: they are collected, counted against the guard once the read completed,
//! and applied only then. A read that fails or is cut off therefore deprovisions nobody.

/// The mass-deprovisioning guard tripped: the run stopped before disabling or deleting anyone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this run would disable or delete {count} of {population} users, more than the allowed {limit} (max_deprovision_share); nothing was disabled or deleted — check the directory, or rerun with --force"
)]
pub struct GuardTripped {
    pub count: u64,
    pub population: u64,
    pub limit: u64,
}

/// Whether `count` deprovisions out of `population` enabled users stay within `share`.
pub fn check_guard(
    count: u64,
    population: u64,
    share: f64,
    force: bool,
) -> Result<(), GuardTripped> {
    // Rounded down: with share 0.1, 9 users allow none, 10 allow one.
    let limit = (population as f64 * share).floor() as u64;
    if force || count <= limit {
        Ok(())
    } else {
        Err(GuardTripped {
            count,
            population,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard() {
        let table = [
            // count, population, share, force, ok
            (0, 0, 0.1, false, true),
            (1, 9, 0.1, false, false),
            (1, 10, 0.1, false, true),
            (2, 10, 0.1, false, false),
            (2, 10, 0.1, true, true),
            (10, 100, 0.1, false, true),
            (11, 100, 0.1, false, false),
            (5, 5, 1.0, false, true),
            (1, 100, 0.0, false, false),
        ];
        for (count, pop, share, force, ok) in table {
            assert_eq!(
                check_guard(count, pop, share, force).is_ok(),
                ok,
                "{count}/{pop} at {share} force={force}"
            );
        }
        let e = check_guard(3, 10, 0.1, false).unwrap_err();
        assert_eq!((e.count, e.population, e.limit), (3, 10, 1));
    }
}
