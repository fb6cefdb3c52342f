//! Rules of the codebase, enforced as ordinary tests (see ARCHITECTURE.md).

use std::fs;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Crates that decide and do no IO: no clock, no randomness, no sockets,
/// files or environment, no async runtime, no database.
const CORE_CRATES: &[&str] = &["model", "routing", "sim", "sip", "wfm"];

#[test]
fn core_crates_do_no_io() {
    let forbidden_deps = [
        "tokio",
        "sqlx",
        "axum",
        "reqwest",
        "hyper",
        "rand",
        "getrandom",
        "async-nats",
        "tracing-subscriber",
    ];
    let forbidden_code = [
        "std::fs",
        "std::net",
        "std::env",
        "std::process",
        "SystemTime::now",
        "Instant::now",
        "Utc::now",
        "Zoned::now",
        "Timestamp::now",
        "Uuid::now_v7",
        "Uuid::new_v4",
        "thread_rng",
        "rand::rng",
        // Randomly seeded hashing would make runs differ; maps that are
        // iterated must be ordered (BTreeMap), lookup-only maps may use a
        // fixed hasher (FxHashMap).
        "RandomState",
        "HashMap::new",
        "HashSet::new",
        "std::collections::HashMap",
        "std::collections::HashSet",
    ];
    for name in CORE_CRATES {
        let root = workspace().join("crates").join(name);
        let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let deps = manifest
            .split("[dependencies]")
            .nth(1)
            .unwrap_or("")
            .split("\n[")
            .next()
            .unwrap_or("");
        for d in forbidden_deps {
            assert!(
                !deps
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{d} "))
                        || l.trim_start().starts_with(&format!("{d}."))),
                "core crate {name} depends on {d}"
            );
        }
        let mut files = Vec::new();
        rust_files(&root.join("src"), &mut files);
        for f in files {
            let text = fs::read_to_string(&f).unwrap();
            for bad in forbidden_code {
                assert!(
                    !text.contains(bad),
                    "{} (a core crate) uses {bad}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn every_module_says_what_it_is_for() {
    let mut files = Vec::new();
    rust_files(&workspace().join("crates"), &mut files);
    for f in files {
        let s = f.to_string_lossy();
        if s.contains("/tests/") || s.contains("/benches/") {
            continue;
        }
        let text = fs::read_to_string(&f).unwrap();
        assert!(
            text.trim_start().starts_with("//!"),
            "{} has no //! module doc",
            f.display()
        );
    }
}

#[test]
fn both_backends_have_the_same_migrations() {
    let list = |backend: &str| {
        let mut v: Vec<String> =
            fs::read_dir(workspace().join("crates/store/migrations").join(backend))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        v.sort();
        v
    };
    let sqlite = list("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite,
        list("postgres"),
        "every migration exists for both backends with the same version"
    );
}

#[test]
fn personal_data_is_not_logged_in_clear() {
    // Log macros must not print emails, names or message bodies; the
    // shells log ids, counts and outcomes only.
    let mut files = Vec::new();
    rust_files(&workspace().join("crates"), &mut files);
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let l = line.trim();
            let is_log = [
                "tracing::info!",
                "tracing::warn!",
                "tracing::error!",
                "tracing::debug!",
                "info!(",
                "warn!(",
                "error!(",
            ]
            .iter()
            .any(|m| l.starts_with(m));
            if is_log {
                for pii in [
                    "email",
                    "display_name",
                    "phone",
                    "notes",
                    "password",
                    ".name",
                ] {
                    assert!(
                        !l.contains(pii),
                        "{}:{} logs {pii}: {l}",
                        f.display(),
                        n + 1
                    );
                }
            }
        }
    }
}
