//! The `casebook` command as a user runs it.

use std::process::Command;

fn casebook(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_casebook"))
        .args(args)
        .output()
        .expect("the casebook binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_prints_the_crate_version() {
    let (code, stdout, _) = casebook(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("casebook {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn list_shows_each_bundled_study() {
    let (code, stdout, stderr) = casebook(&["list"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "feed-ranking\tFeed ranking\t45 min",
            "harmful-content\tHarmful content detection\t40 min"
        ]
    );
}

#[test]
fn unknown_command_is_a_usage_error() {
    let (code, _, stderr) = casebook(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unrecognized subcommand"), "{stderr}");
}
