//! Shared test harness of stackpro: the project's own files, a private local AWS
//! emulator (moto in server mode) per test, and SDK configuration that can only reach it.
//!
//! Tests never touch real AWS: clients built here carry static dummy credentials and an
//! explicit loopback endpoint, and spawned `stackpro` processes get a cleared environment.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root (the workspace this crate is a member of).
///
/// Found from the package cargo is testing (`CARGO_MANIFEST_DIR` as set when the tests
/// run, whichever member that is), not from the path this library was compiled at: two
/// clones sharing a kept target directory (CI's, a developer's) reuse this library's
/// build, and a path baked in at compile time would be the other clone's.
pub fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(&manifest_dir)
        .to_path_buf()
}

/// The account the emulator answers as, whatever the credentials (STS
/// GetCallerIdentity): bucket names carry it.
pub const EMULATOR_ACCOUNT: &str = "123456789012";

/// A copy of the project's configuration and templates in a temporary directory, for
/// tests that change a file.
pub struct ProjectCopy {
    pub dir: tempfile::TempDir,
}

impl ProjectCopy {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let root = project_root();
        for sub in ["envs", "templates", "dashboards"] {
            copy_dir(&root.join(sub), &dir.path().join(sub));
        }
        for cap in std::fs::read_dir(root.join("handlers"))
            .expect("read handlers/")
            .flatten()
        {
            let file = cap.path().join("capability.yaml");
            if file.is_file() {
                let target = dir.path().join("handlers").join(cap.file_name());
                std::fs::create_dir_all(&target).unwrap();
                std::fs::copy(&file, target.join("capability.yaml")).unwrap();
                let contract = cap.path().join("openapi.yaml");
                if contract.is_file() {
                    std::fs::copy(&contract, target.join("openapi.yaml")).unwrap();
                }
            }
        }
        ProjectCopy { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Replaces the one occurrence of `from` in `rel` with `to`.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` must occur once in {rel}"
        );
        self.write(rel, &text.replacen(from, to, 1));
    }
}

impl ProjectCopy {
    /// Puts a handler zip where `stackpro build` leaves it for each capability
    /// (`.stackpro/lambda/<binary>/bootstrap.zip`), for `deploy --no-build`. `version`
    /// changes the bytes of the `bootstrap` inside, as a code change would.
    pub fn with_artifacts(&self, version: &str) -> &Self {
        for cap in std::fs::read_dir(self.path().join("handlers"))
            .unwrap()
            .flatten()
        {
            let file = cap.path().join("capability.yaml");
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
            let binary = doc["handler"]["binary"].as_str().unwrap();
            let content = format!("#!/bin/sh\n# {binary} handler build {version}\n");
            let dir = self.path().join(".stackpro/lambda").join(binary);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("bootstrap.zip"),
                zip_of("bootstrap", content.as_bytes()),
            )
            .unwrap();
        }
        self
    }
}

/// A zip archive holding one file.
pub fn zip_of(name: &str, content: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    w.start_file(
        name,
        zip::write::SimpleFileOptions::default().unix_permissions(0o755),
    )
    .unwrap();
    w.write_all(content).unwrap();
    w.finish().unwrap();
    out.into_inner()
}

impl Default for ProjectCopy {
    fn default() -> Self {
        Self::new()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// Where the project's tools are: the venv `scripts/setup.sh` creates.
pub fn venv_tool(name: &str) -> PathBuf {
    let path = project_root().join(".venv").join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/setup.sh` to install the pinned test tools",
        path.display()
    );
    path
}

/// checkov, in the venv of its own `scripts/setup.sh` creates (it pins an older botocore
/// than the emulator's venv has).
pub fn checkov_tool() -> PathBuf {
    let path = project_root().join(".venv-checkov/bin/checkov");
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/setup.sh` to install the pinned checkov",
        path.display()
    );
    path
}

/// A moto server of this test's own on a free loopback port, stopped when dropped.
pub struct Emulator {
    child: Child,
    pub port: u16,
    pub url: String,
}

/// moto's server handles requests on threads without a lock around its DynamoDB
/// backend, so two concurrent conditional writes (or transactions) can both pass their
/// condition. DynamoDB never does that. This runs moto's own `main` with the server
/// forced single-threaded, so each request is atomic as on AWS, while the client side
/// stays as concurrent as the test makes it.
const SERIAL_MOTO: &str = "import sys, moto.server as s\n\
_run = s.run_simple\n\
def run_simple(*a, **k):\n    k['threaded'] = False\n    return _run(*a, **k)\n\
s.run_simple = run_simple\n\
sys.exit(s.main(sys.argv[1:]))\n";

impl Emulator {
    pub fn start() -> Self {
        Self::spawn(false)
    }

    /// An emulator that serves one request at a time (see `SERIAL_MOTO`), for tests of
    /// concurrent conditional writes.
    pub fn start_serialized() -> Self {
        Self::spawn(true)
    }

    fn spawn(serialized: bool) -> Self {
        let moto = venv_tool("moto_server");
        let python = venv_tool("python");
        // Ask the kernel for a free port, release it, and hand it to moto; retry if
        // another process takes it in between.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("find a free loopback port");
            let mut command = if serialized {
                let mut c = Command::new(&python);
                c.args(["-c", SERIAL_MOTO]);
                c
            } else {
                Command::new(&moto)
            };
            let mut child = command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn moto_server");
            let url = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if healthy(port) {
                    return Emulator { child, port, url };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not become healthy on a loopback port");
    }

    /// An SDK configuration that reaches only this emulator.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.url, "us-east-1")
    }

    /// Stops the server (for tests of what happens when it is gone).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal HTTP GET of moto's own API, to know when it listens.
fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// SDK configuration with dummy static credentials and an explicit endpoint: nothing
/// is read from the process environment or profile files.
pub fn sdk_config_for(url: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(url)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "stackpro-tests",
                ),
            ),
        )
        .build()
}

/// The smallest valid zip archive (an empty one) and its Lambda `CodeSha256`
/// (base64 SHA-256 of the zip bytes). The emulator never runs the code.
pub fn empty_zip() -> (Vec<u8>, String) {
    use base64::Engine;
    use sha2::Digest;
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend_from_slice(&[0u8; 18]);
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&zip));
    (zip, sha)
}
