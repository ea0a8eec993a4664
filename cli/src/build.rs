//! Building handler crates into Lambda zips with cargo-lambda, and reading what a build
//! produced (no network).
//!
//! One `cargo lambda build` runs for every binary asked for, with the zig linker and an
//! explicit glibc-versioned target so the binary runs on `provided.al2023` whatever the
//! build machine's glibc is. Artifacts are identified by the SHA-256 of the `bootstrap`
//! binary inside the zip: the zip's own bytes change with the binary's mtime, the binary's
//! do not when the code did not change.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Capability;
use crate::error::{Error, Result};
use crate::project::Project;
use crate::render::hex;

pub use crate::config::Architecture;

/// Overrides the cargo target directory of handler builds (CI keeps it between runs).
pub const TARGET_DIR_ENV: &str = "STACKPRO_LAMBDA_TARGET_DIR";

/// One handler zip, ready to upload.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Artifact {
    pub capability: String,
    pub package: String,
    pub binary: String,
    pub zip: PathBuf,
    pub zip_bytes: u64,
    /// Hex SHA-256 of the `bootstrap` binary in the zip: what identifies the code.
    pub binary_sha256: String,
    /// Base64 SHA-256 of the zip bytes: Lambda's `CodeSha256` of this zip.
    pub code_sha256: String,
}

/// Where cargo-lambda writes zips: `<project>/.stackpro/lambda/<binary>/bootstrap.zip`
/// for x86_64, `.stackpro/lambda-arm64/...` for arm64 (both can be built side by side).
pub fn lambda_dir(project: &Project, arch: Architecture) -> PathBuf {
    let dir = match arch {
        Architecture::X86_64 => "lambda",
        Architecture::Arm64 => "lambda-arm64",
    };
    project.root().join(".stackpro").join(dir)
}

/// The zip of one capability's handler binary for `arch`.
pub fn zip_path(project: &Project, cap: &Capability, arch: Architecture) -> PathBuf {
    lambda_dir(project, arch)
        .join(&cap.handler.binary)
        .join("bootstrap.zip")
}

/// The cargo target directory of handler builds: `$STACKPRO_LAMBDA_TARGET_DIR`, else
/// `<project>/target/lambda-build`, apart from the CLI's own so the two builds (debug
/// host binaries, release cross-linked handlers) never invalidate each other.
pub fn target_dir(project: &Project) -> PathBuf {
    match std::env::var_os(TARGET_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => project.root().join("target").join("lambda-build"),
    }
}

/// The binaries of each package of the project's Cargo workspace (`cargo metadata`).
/// A project without a `Cargo.toml` has none.
pub fn workspace_binaries(project: &Project) -> Result<BTreeMap<String, Vec<String>>> {
    let manifest = project.root().join("Cargo.toml");
    if !manifest.is_file() {
        return Ok(BTreeMap::new());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Tool {
            tool: "cargo",
            message: format!("could not start `cargo metadata`: {e}"),
            help: Some("install Rust with rustup so `cargo` is on PATH".into()),
        })?;
    if !out.status.success() {
        return Err(Error::Tool {
            tool: "cargo",
            message: format!(
                "`cargo metadata` failed for {}: {}",
                manifest.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            help: Some("fix the workspace's Cargo.toml so `cargo metadata` succeeds".into()),
        });
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| Error::Tool {
        tool: "cargo",
        message: format!("`cargo metadata` printed something that is not JSON: {e}"),
        help: None,
    })?;
    let mut packages = BTreeMap::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default().to_string();
        let bins = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
            })
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect();
        packages.insert(name, bins);
    }
    Ok(packages)
}

/// Why a capability cannot be built, when its crate is not in the workspace.
pub fn missing_crate(cap: &Capability, packages: &BTreeMap<String, Vec<String>>) -> Option<String> {
    match packages.get(&cap.handler.package) {
        None => Some(format!(
            "package {} is not in the project's Cargo workspace",
            cap.handler.package
        )),
        Some(bins) if !bins.contains(&cap.handler.binary) => Some(format!(
            "package {} has no binary {} (it has: {})",
            cap.handler.package,
            cap.handler.binary,
            if bins.is_empty() {
                "none".to_string()
            } else {
                bins.join(", ")
            }
        )),
        Some(_) => None,
    }
}

/// The cargo-lambda executable and the PATH that gives it zig: the project's venv
/// first (where `scripts/setup.sh` installs both), then the caller's PATH.
fn toolchain(project: &Project) -> Result<(PathBuf, std::ffi::OsString)> {
    let venv = project.venv_bin();
    let mut dirs = vec![venv.clone()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(&dirs).unwrap_or_default();
    let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    let install = "run `bash scripts/setup.sh` (installs cargo-lambda and ziglang into .venv), \
                   or `pip install cargo-lambda ziglang`";
    let cargo_lambda = find("cargo-lambda").ok_or_else(|| Error::Tool {
        tool: "cargo-lambda",
        message: format!(
            "cargo-lambda is not installed (looked in {} and PATH)",
            venv.display()
        ),
        help: Some(install.into()),
    })?;
    let has_zig = find("zig").is_some() || {
        find("python3").is_some_and(|python| {
            Command::new(python)
                .args(["-c", "import ziglang"])
                .env("PATH", &path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    };
    if !has_zig {
        return Err(Error::Tool {
            tool: "zig",
            message: "zig is not installed: cargo-lambda links handlers with it for the glibc 2.17 target".into(),
            help: Some(install.into()),
        });
    }
    Ok((cargo_lambda, path))
}

/// Builds the handlers of `caps` for `arch` with one `cargo lambda build` and returns
/// their artifacts. cargo-lambda's own output goes to stderr, so stdout stays a clean report.
pub fn build(project: &Project, caps: &[&Capability], arch: Architecture) -> Result<Vec<Artifact>> {
    if caps.is_empty() {
        return Ok(Vec::new());
    }
    let (cargo_lambda, path) = toolchain(project)?;
    let mut cmd = Command::new(cargo_lambda);
    cmd.args([
        "lambda",
        "build",
        "--release",
        "--locked",
        "--output-format",
        "zip",
        "--compiler",
        "cargo-zigbuild",
        "--target",
        arch.lambda_target(),
        "--skip-target-check",
    ])
    .arg("--lambda-dir")
    .arg(lambda_dir(project, arch))
    // Through the environment: cargo-lambda 1.9 passes a `--target-dir` flag on to
    // `cargo metadata`, which rejects it.
    .env("CARGO_TARGET_DIR", target_dir(project));
    let mut seen = std::collections::BTreeSet::new();
    for cap in caps {
        if seen.insert(&cap.handler.package) {
            cmd.args(["--package", &cap.handler.package]);
        }
        cmd.args(["--bin", &cap.handler.binary]);
    }
    cmd.current_dir(project.root())
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(std::io::stderr());
    let status = cmd.status().map_err(|e| Error::Tool {
        tool: "cargo-lambda",
        message: format!("could not start `cargo lambda build`: {e}"),
        help: None,
    })?;
    if !status.success() {
        return Err(Error::Tool {
            tool: "cargo-lambda",
            message: format!(
                "`cargo lambda build` failed ({status}) for {}",
                caps.iter()
                    .map(|c| c.handler.binary.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            help: Some("the compiler's messages are above; fix the handler crate and run `stackpro build` again".into()),
        });
    }
    caps.iter()
        .map(|cap| read_artifact(project, cap, arch))
        .collect()
}

/// The artifact a previous build left for `cap`; an error says to build when there is none.
/// The hashes come from the file `stackpro build` keeps beside the zip while the zip's
/// size and modification time are the ones recorded there, so a deploy of an unchanged
/// build neither reads the zip nor decompresses and hashes the binary again.
pub fn read_artifact(project: &Project, cap: &Capability, arch: Architecture) -> Result<Artifact> {
    let zip = zip_path(project, cap, arch);
    let kept = zip_hashes(&zip).map_err(|err| match err {
        HashError::Io(source) if source.kind() == std::io::ErrorKind::NotFound => Error::Config {
            message: format!(
                "no handler zip for {} at {}",
                cap.name,
                project.display_path(&zip).display()
            ),
            help: Some(format!(
                "run `stackpro build {}{}` (or deploy without --no-build)",
                cap.name,
                match arch {
                    Architecture::X86_64 => String::new(),
                    other => format!(" --arch {other}"),
                }
            )),
        },
        HashError::Io(source) => Error::Io {
            action: "read",
            path: zip.clone(),
            source,
        },
        HashError::NotAZip(message) => Error::Config {
            message: format!(
                "{} is not a Lambda zip: {message}",
                project.display_path(&zip).display()
            ),
            help: Some(format!("rebuild it with `stackpro build {}`", cap.name)),
        },
    })?;
    Ok(Artifact {
        capability: cap.name.clone(),
        package: cap.handler.package.clone(),
        binary: cap.handler.binary.clone(),
        zip_bytes: kept.zip_bytes,
        code_sha256: kept.code_sha256,
        binary_sha256: kept.binary_sha256,
        zip,
    })
}

/// The hashes of a zip, kept beside it in `<zip>.hashes.json`: valid while the zip has
/// the recorded size and modification time.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, serde::Deserialize)]
pub struct KeptHashes {
    pub zip_bytes: u64,
    /// The zip's modification time, in nanoseconds since the epoch.
    pub mtime_ns: u128,
    /// Hex SHA-256 of the `bootstrap` inside.
    pub binary_sha256: String,
    /// Lambda's CodeSha256 of the zip.
    pub code_sha256: String,
}

/// Where a zip's hashes are kept.
pub fn hashes_path(zip: &std::path::Path) -> PathBuf {
    let mut name = zip.as_os_str().to_owned();
    name.push(".hashes.json");
    PathBuf::from(name)
}

#[derive(Debug)]
enum HashError {
    Io(std::io::Error),
    NotAZip(String),
}

/// The zip's hashes: the kept ones when the zip's size and mtime match them, else
/// computed (reading the zip, decompressing and hashing `bootstrap`) and kept.
fn zip_hashes(zip: &std::path::Path) -> std::result::Result<KeptHashes, HashError> {
    let meta = std::fs::metadata(zip).map_err(HashError::Io)?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let kept = std::fs::read(hashes_path(zip))
        .ok()
        .and_then(|text| serde_json::from_slice::<KeptHashes>(&text).ok())
        .filter(|k| k.zip_bytes == meta.len() && k.mtime_ns == mtime_ns && mtime_ns != 0);
    if let Some(kept) = kept {
        return Ok(kept);
    }
    let bytes = std::fs::read(zip).map_err(HashError::Io)?;
    let hashes = KeptHashes {
        zip_bytes: bytes.len() as u64,
        mtime_ns,
        binary_sha256: bootstrap_sha256(&bytes).map_err(HashError::NotAZip)?,
        code_sha256: code_sha256(&bytes),
    };
    // Best effort: without it the next read hashes again, nothing worse.
    if let Ok(text) = serde_json::to_vec_pretty(&hashes) {
        let _ = std::fs::write(hashes_path(zip), text);
    }
    Ok(hashes)
}

/// Lambda's `CodeSha256` of a zip: base64 of the SHA-256 of its bytes.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

/// Hex SHA-256 of the `bootstrap` entry of a zip.
pub fn bootstrap_sha256(zip: &[u8]) -> std::result::Result<String, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| format!("unreadable zip: {e}"))?;
    let mut entry = archive
        .by_name("bootstrap")
        .map_err(|_| "it has no `bootstrap` file at its root".to_string())?;
    let mut hasher = Sha256::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|e| format!("could not read `bootstrap`: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn hashes_are_kept_beside_the_zip_and_trusted_only_for_its_size_and_mtime() {
        let dir = std::env::temp_dir().join(format!("stackpro-hashes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zip = dir.join("bootstrap.zip");
        std::fs::write(&zip, zip_with("bootstrap", b"one")).unwrap();
        let first = zip_hashes(&zip).unwrap();
        assert_eq!(first.binary_sha256, hex(&Sha256::digest(b"one")));
        let kept: KeptHashes =
            serde_json::from_slice(&std::fs::read(hashes_path(&zip)).unwrap()).unwrap();
        assert_eq!(kept, first);
        // Kept hashes are used as they are while size and mtime match: the zip is not
        // read again (a marker in the kept file comes back).
        let marked = KeptHashes {
            binary_sha256: "marker".into(),
            ..kept.clone()
        };
        std::fs::write(hashes_path(&zip), serde_json::to_vec(&marked).unwrap()).unwrap();
        assert_eq!(zip_hashes(&zip).unwrap().binary_sha256, "marker");
        // A new build (other size or mtime) is hashed again.
        std::fs::write(&zip, zip_with("bootstrap", b"two, longer")).unwrap();
        let second = zip_hashes(&zip).unwrap();
        assert_eq!(second.binary_sha256, hex(&Sha256::digest(b"two, longer")));
        assert_eq!(
            second.code_sha256,
            code_sha256(&std::fs::read(&zip).unwrap())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn zip_with(name: &str, content: &[u8]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(content).unwrap();
        w.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn the_binary_not_the_zip_identifies_the_code() {
        let zip = zip_with("bootstrap", b"\x7fELF code");
        assert_eq!(
            bootstrap_sha256(&zip).unwrap(),
            hex(&Sha256::digest(b"\x7fELF code"))
        );
        assert_eq!(code_sha256(&zip).len(), 44);
        assert!(bootstrap_sha256(&zip_with("main", b"x"))
            .unwrap_err()
            .contains("no `bootstrap`"));
        assert!(bootstrap_sha256(b"not a zip")
            .unwrap_err()
            .contains("unreadable zip"));
    }
}
