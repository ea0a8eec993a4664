//! Where a stackpro project lives on disk, and the paths of what is in it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A stackpro project: a directory with `envs/`, `templates/` and `handlers/`.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
}

impl Project {
    /// The project at `dir` if given, else the nearest enclosing project of `start`.
    pub fn discover(dir: Option<&Path>, start: &Path) -> Result<Self> {
        if let Some(dir) = dir {
            let root = if dir.is_absolute() {
                dir.to_path_buf()
            } else {
                start.join(dir)
            };
            if Self::is_project(&root) {
                return Ok(Project { root });
            }
            return Err(Error::NoProject { start: root });
        }
        start
            .ancestors()
            .find(|candidate| Self::is_project(candidate))
            .map(|root| Project {
                root: root.to_path_buf(),
            })
            .ok_or_else(|| Error::NoProject {
                start: start.to_path_buf(),
            })
    }

    fn is_project(dir: &Path) -> bool {
        ["envs", "templates", "handlers"]
            .iter()
            .all(|sub| dir.join(sub).is_dir())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn envs_dir(&self) -> PathBuf {
        self.root.join("envs")
    }

    pub fn handlers_dir(&self) -> PathBuf {
        self.root.join("handlers")
    }

    pub fn env_file(&self, name: &str) -> PathBuf {
        self.envs_dir().join(format!("{name}.yaml"))
    }

    /// Where rendered documents go when `--out` is not given.
    pub fn default_render_dir(&self) -> PathBuf {
        self.root.join(".stackpro").join("rendered")
    }

    /// The project's own virtualenv, where `scripts/setup.sh` installs its Python tools.
    pub fn venv_bin(&self) -> PathBuf {
        self.root.join(".venv").join("bin")
    }

    /// Path relative to the project root, for messages.
    pub fn display_path(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// The sorted names of the `*.yaml` files in `dir` (stems), or of its sub-directories
/// that hold `file`.
pub(crate) fn list_names(dir: &Path, file: Option<&str>) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        action: "read directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        match file {
            Some(file) if path.join(file).is_file() => {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
            None if path.extension().is_some_and(|e| e == "yaml") && path.is_file() => {
                if let Some(stem) = path.file_stem() {
                    names.push(stem.to_string_lossy().into_owned());
                }
            }
            _ => {}
        }
    }
    names.sort();
    Ok(names)
}
