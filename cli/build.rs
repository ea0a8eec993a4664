//! Puts the commit stackpro was built from into `stackpro --version`
//! (`stackpro 0.1.0 (ae69a36 2026-11-30)`), as cargo and uv do: a bug report then names
//! the code. Built outside a git checkout (a source archive), the version stands alone.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=STACKPRO_COMMIT");
    // Rebuild when HEAD moves: its file, and the branch file it names (both resolved by
    // git, so worktrees and packed refs work too).
    for file in ["HEAD", "refs/heads", "packed-refs"] {
        match git(&["rev-parse", "--git-path", file]) {
            Some(path) => println!("cargo:rerun-if-changed={path}"),
            // Outside a checkout (a copy of the project sharing the target directory, as
            // the scaffold test makes): name where a checkout keeps them anyway. Missing,
            // they make this script run on every build here; in the checkout, the next
            // commit runs it again, so a version without its commit never sticks.
            None => println!("cargo:rerun-if-changed=../.git/{file}"),
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(&["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = std::env::var("STACKPRO_COMMIT").ok().or_else(|| {
        let hash = git(&["rev-parse", "--short=9", "HEAD"])?;
        let date = git(&["log", "-1", "--format=%cd", "--date=short"])?;
        Some(format!("{hash} {date}"))
    });
    let version = env!("CARGO_PKG_VERSION");
    let long = match commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version.to_string(),
    };
    println!("cargo:rustc-env=STACKPRO_VERSION={long}");
}
