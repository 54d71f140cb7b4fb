//! The layering rule, checked: only the storage layer (`plugin/src/store`) names sqlx, and only
//! the server crate names axum, tower or tower-http — in code and in each crate's
//! `[dependencies]`. The black-box tests and benchmarks (`tests/`, `benches/`) are not
//! checked: they inject faults into the database and stand in for Microsoft Graph over HTTP.

use std::fs;
use std::path::{Path, PathBuf};

/// The workspace's root (this crate is `server/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Every crate's source tree, relative to the root.
const SOURCE_TREES: [&str; 5] = [
    "src",
    "plugin/src",
    "bridge/src",
    "server/src",
    "testkit/src",
];

/// Who may name what: (crate, the only tree that may name it).
const RULES: [(&str, &str); 4] = [
    ("sqlx", "plugin/src/store/"),
    ("axum", "server/"),
    ("tower", "server/"),
    ("tower_http", "server/"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a Rust file without its comments (a comment may mention anything; only code
/// depends on a crate). String literals are kept: naming a crate in one is still a use worth
/// seeing.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut depth = 1;
                let mut prev = ' ';
                for n in chars.by_ref() {
                    match (prev, n) {
                        ('/', '*') => {
                            depth += 1;
                            prev = ' ';
                            continue;
                        }
                        ('*', '/') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            prev = ' ';
                            continue;
                        }
                        _ => {}
                    }
                    prev = n;
                }
            }
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether `code` names `name` as a whole word (`sqlx::`, `use sqlx;`, not `mysqlx`).
fn names(code: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

#[test]
fn only_the_store_names_sqlx_and_only_the_server_names_axum() {
    let root = root();
    let mut offences = Vec::new();
    let mut seen = [false; RULES.len()];
    let mut files = 0;
    for tree in SOURCE_TREES {
        let mut paths = Vec::new();
        rust_files(&root.join(tree), &mut paths);
        for path in paths {
            files += 1;
            let rel = path
                .strip_prefix(&root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            let code = code_only(&fs::read_to_string(&path).expect("a readable source file"));
            for (i, (name, owner)) in RULES.iter().enumerate() {
                if names(&code, name) {
                    if rel.starts_with(owner) {
                        seen[i] = true;
                    } else {
                        offences.push(format!("{rel} names `{name}` (only {owner} may)"));
                    }
                }
            }
        }
    }
    assert!(
        files > 200,
        "only {files} source files found: is the root right?"
    );
    // The check sees the uses that are allowed: it would see the others.
    assert!(seen[0], "plugin/src/store names sqlx: the check is blind");
    assert!(seen[1], "server/ names axum: the check is blind");
    assert!(offences.is_empty(), "\n{}", offences.join("\n"));
}

/// Whether `code` reaches the plugin's storage layer: `plugin::store…` or a grouped
/// `use plugin::{…, store, …}`.
fn names_the_store(code: &str) -> bool {
    if names(code, "plugin::store") {
        return true;
    }
    code.match_indices("plugin::{").any(|(at, needle)| {
        let rest = &code[at + needle.len()..];
        let group = &rest[..rest.find('}').unwrap_or(rest.len())];
        names(group, "store")
    })
}

/// The bridge (SCIM, LDAP, onboarding, mail) changes the database only through the
/// platform's operations, which own the transaction, the audit records and the events; it
/// never opens the store itself.
#[test]
fn the_bridge_goes_through_platform_operations_not_the_store() {
    let root = root();
    let mut paths = Vec::new();
    rust_files(&root.join("bridge/src"), &mut paths);
    assert!(paths.len() > 50, "only {} bridge files", paths.len());
    let offences: Vec<String> = paths
        .iter()
        .filter(|path| {
            let code = code_only(&fs::read_to_string(path).expect("a readable source file"));
            names_the_store(&code)
        })
        .map(|path| {
            path.strip_prefix(&root)
                .unwrap_or(path)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        offences.is_empty(),
        "these bridge files name plugin::store:\n{}",
        offences.join("\n")
    );
}

/// The `[dependencies]` table of a manifest, as lines.
fn dependencies(manifest: &str) -> Vec<&str> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            out.push(line);
        }
    }
    out
}

#[test]
fn only_the_store_and_server_crates_depend_on_sqlx_and_axum() {
    let root = root();
    let mut offences = Vec::new();
    // (manifest, what it may depend on among the rule's crates)
    let crates: [(&str, &[&str]); 5] = [
        ("Cargo.toml", &[]),
        ("plugin/Cargo.toml", &["sqlx"]),
        ("bridge/Cargo.toml", &[]),
        ("server/Cargo.toml", &["axum", "tower", "tower-http"]),
        ("testkit/Cargo.toml", &[]),
    ];
    for (manifest, allowed) in crates {
        let text = fs::read_to_string(root.join(manifest)).expect("a manifest");
        for dep in dependencies(&text) {
            let name = dep.split(['=', '.', ' ']).next().unwrap_or("");
            if ["sqlx", "axum", "tower", "tower-http"].contains(&name) && !allowed.contains(&name) {
                offences.push(format!("{manifest} depends on {name}"));
            }
        }
    }
    assert!(offences.is_empty(), "\n{}", offences.join("\n"));
}

#[test]
fn comments_are_not_code_but_strings_are() {
    let code = code_only(
        "// sqlx in a comment\nlet a = 1; /* axum /* nested */ still */ let b = \"sqlx=warn\";",
    );
    assert!(!names(&code, "axum"), "{code}");
    assert!(names(&code, "sqlx"), "{code}");
    assert!(names("use sqlx::Row;", "sqlx"));
    assert!(!names("mysqlx_thing", "sqlx"));
    assert!(!names("tower_http::x", "tower"));
    assert!(names("tower_http::x", "tower_http"));
    assert!(!names("let s = \"a // b\"; sqlx_free", "sqlx"));
    assert!(names_the_store("use plugin::store::Store;"));
    assert!(names_the_store("use plugin::{platform::Platform, store};"));
    assert!(!names_the_store(
        "use plugin::{platform::Platform, domain::store_kind};"
    ));
    assert!(!names_the_store("use super::store::take_ci;"));
}
