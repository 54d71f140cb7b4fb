//! A throwaway PostgreSQL cluster for the benchmark scripts: starts one (fsync on, as a
//! production server; `--fast` for fsync off), prints the URL of a fresh database on its
//! first line, and keeps the cluster until standard input closes.

use std::io::Read;

fn main() {
    let fast = std::env::args().any(|a| a == "--fast");
    let cluster = if fast {
        testkit::postgres::Cluster::start_private()
    } else {
        testkit::postgres::Cluster::start_durable()
    };
    let cluster = match cluster {
        Ok(c) => c,
        Err(why) => {
            eprintln!("pg-cluster: {why}");
            std::process::exit(2);
        }
    };
    println!("{}", cluster.create_database());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(cluster);
}
