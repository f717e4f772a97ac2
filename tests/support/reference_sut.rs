//! The reference settlement system, built on demand by the cargo that runs the test or
//! benchmark (`CARGO`), with the same profile and target directory, so any filtered
//! `cargo test` / `cargo bench` finds it. Shared by tests/conformance.rs and
//! benches/conformance.rs through `#[path]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The reference SUT binary, built on first use by the cargo that runs this test (`CARGO`).
///
/// `cargo test` releases its build-directory lock before it runs test binaries, so the nested
/// build does not wait on it; when everything is fresh it only checks and takes a second.
pub fn reference_sut() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_reference_sut)
}

fn build_reference_sut() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows where it runs from");
    // Test binaries live in <target-dir>/<profile-dir>/deps/conformance-HASH.
    let profile_dir = exe
        .parent()
        .filter(|deps| deps.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--example", "reference-sut"])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        // JSON on stdout says where the binary is; warnings and errors go, rendered, to stderr.
        .arg("--message-format=json-render-diagnostics");
    // The same profile as this test: target/debug is dev (or test), target/release is release
    // (or bench), any other directory is the custom profile of that name.
    match profile_dir
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
    {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(custom) => {
            cmd.args(["--profile", custom]);
        }
        None if cfg!(debug_assertions) => {}
        None => {
            cmd.arg("--release");
        }
    }
    // The same target directory: CARGO_TARGET_DIR if set (and absolute: a relative one was
    // relative to wherever `cargo test` was started), else the one this test was built in.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| profile_dir.and_then(Path::parent).map(Path::to_path_buf));
    if let Some(dir) = &target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    let shown = format!(
        "{} {}",
        Path::new(&cargo).display(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("building the reference SUT: {shown}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "building the reference SUT failed ({}): `{shown}`\n{stderr}",
        out.status
    );
    // The artifact message of the example names its executable.
    let bin = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "reference-sut")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| {
            panic!("`{shown}` succeeded but named no reference-sut executable\n{stderr}")
        });
    assert!(
        bin.exists(),
        "`{shown}` reported {} but it does not exist",
        bin.display()
    );
    bin
}
