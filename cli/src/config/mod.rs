//! The project's configuration: the capability catalogue (`handlers/*/capability.yaml`)
//! and the environments (`envs/<env>.yaml`), parsed strictly and checked together.

mod capability;
mod env;
pub mod flags;
mod yaml;

/// Whether a name can name a capability: lower-case letters and digits, starting with a
/// letter, at most 24.
pub use capability::is_name as is_capability_name;
pub use capability::{
    bucket_name, longest_bucket_name, pascal_case, AttributeType, Bucket, Capability, IamStatement,
    KeyAttribute, Location, Route, Table, CONTRACT_FILE, LONGEST_REGION, MAX_BUCKET_NAME,
};
pub use env::{
    is_loopback_url, AlarmSettings, Architecture, DeploymentMode, EnvConfig, FastPath,
    LambdaSettings, Throttle, Tracing, MAX_TIMEOUT_SECONDS, RETENTION_DAYS,
};
pub use flags::{FlagKind, FlagValue};
pub use yaml::Source;

use crate::error::{unknown_name, Result};
use crate::project::{list_names, Project};

/// Everything stackpro knows about a project: its capabilities, and how to load its envs.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub capabilities: Vec<Capability>,
}

impl Catalogue {
    /// Loads every `handlers/<name>/capability.yaml`.
    pub fn load(project: &Project) -> Result<Self> {
        let names = list_names(&project.handlers_dir(), Some("capability.yaml"))?;
        let mut capabilities = Vec::with_capacity(names.len());
        for name in &names {
            let path = project.handlers_dir().join(name).join("capability.yaml");
            capabilities.push(Capability::load(name, &path, project.root())?);
        }
        if capabilities.is_empty() {
            return Err(crate::error::Error::Config {
                message: format!(
                    "no capability is declared under {}",
                    project.handlers_dir().display()
                ),
                help: Some("declare one in handlers/<name>/capability.yaml".into()),
            });
        }
        Ok(Catalogue { capabilities })
    }

    pub fn names(&self) -> Vec<String> {
        self.capabilities.iter().map(|c| c.name.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Result<&Capability> {
        self.capabilities
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| unknown_name("capability", name, &self.names()))
    }

    /// The capabilities named, in the order given (duplicates dropped), or all of them.
    pub fn select(&self, names: &[String], all: bool) -> Result<Vec<&Capability>> {
        if all {
            return Ok(self.capabilities.iter().collect());
        }
        let mut selected: Vec<&Capability> = Vec::new();
        for name in names {
            let cap = self.get(name)?;
            if !selected.iter().any(|c| c.name == cap.name) {
                selected.push(cap);
            }
        }
        Ok(selected)
    }

    /// The names of the environments the project defines (`envs/*.yaml`).
    pub fn env_names(project: &Project) -> Result<Vec<String>> {
        list_names(&project.envs_dir(), None)
    }

    /// Loads and checks one environment against this catalogue.
    pub fn load_env(&self, project: &Project, name: &str) -> Result<EnvConfig> {
        let known = Self::env_names(project)?;
        if !known.iter().any(|k| k == name) {
            return Err(unknown_name("environment", name, &known));
        }
        EnvConfig::load(name, &project.env_file(name), project.root(), self)
    }

    /// The environments named, or all of them.
    pub fn load_envs(&self, project: &Project, name: Option<&str>) -> Result<Vec<EnvConfig>> {
        match name {
            Some(name) => Ok(vec![self.load_env(project, name)?]),
            None => Self::env_names(project)?
                .iter()
                .map(|n| self.load_env(project, n))
                .collect(),
        }
    }
}
