use std::fmt;

use serde::{Deserialize, Serialize};

/// How the live alias got where a deployment record says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentKind {
    /// `stackpro deploy`: the stack and the code of the record's fingerprint.
    #[default]
    Deploy,
    /// `stackpro rollback`: the alias moved back to an earlier version; the stack did not.
    Rollback,
    /// `stackpro rollback --full`: an earlier template and artifact deployed again.
    RollbackFull,
    /// `stackpro deploy --canary`: part of the traffic on a new version.
    Canary,
}

impl DeploymentKind {
    pub const ALL: [DeploymentKind; 4] = [
        DeploymentKind::Deploy,
        DeploymentKind::Rollback,
        DeploymentKind::RollbackFull,
        DeploymentKind::Canary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentKind::Deploy => "deploy",
            DeploymentKind::Rollback => "rollback",
            DeploymentKind::RollbackFull => "rollback-full",
            DeploymentKind::Canary => "canary",
        }
    }

    /// Whether the version of such a record runs the code and configuration of its
    /// fingerprint. A fast rollback or a canary says where the alias was moved, not
    /// what the stack deploys.
    pub fn releases_fingerprint(self) -> bool {
        matches!(self, DeploymentKind::Deploy | DeploymentKind::RollbackFull)
    }
}

impl fmt::Display for DeploymentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
