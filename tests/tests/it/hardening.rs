//! The shipped binary keeps the platform's hardening: checksec (Debian's package, installed
//! by scripts/setup.sh) reads the binary the tests run, which is built from the same
//! `main.rs` with the same toolchain defaults, and `scripts/build-release.sh`, which builds
//! the shipped one, must add nothing that takes them away.

use stackpro_tests::project_root;

#[test]
fn the_binary_is_a_pie_with_full_relro_and_nx_per_checksec() {
    let binary = env!("CARGO_BIN_EXE_stackpro-under-test");
    let out = std::process::Command::new("checksec")
        .args([&format!("--file={binary}"), "--output=json"])
        .output()
        .expect("checksec runs (scripts/setup.sh installs it: apt-get install checksec)");
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("checksec JSON");
    let found = &report[binary];
    assert_eq!(found["pie"], "yes", "{report}");
    assert_eq!(found["relro"], "full", "{report}");
    assert_eq!(found["nx"], "yes", "{report}");
    assert_eq!(found["rpath"], "no", "{report}");
    assert_eq!(found["runpath"], "no", "{report}");
}

#[test]
fn the_release_build_adds_no_code_generation_flags() {
    let script = std::fs::read_to_string(project_root().join("scripts/build-release.sh")).unwrap();
    let builds: Vec<&str> = script
        .lines()
        .filter(|l| l.trim_start().starts_with("cargo "))
        .collect();
    assert_eq!(builds.len(), 1, "{script}");
    for flag in [" -- ", "-C ", "relocation-model", "RUSTFLAGS", "link-arg"] {
        assert!(!builds[0].contains(flag), "{}", builds[0]);
    }
    assert!(
        !script.contains("RUSTFLAGS") && !project_root().join(".cargo/config.toml").exists(),
        "no rustflags beside the script"
    );
}
