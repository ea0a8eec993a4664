use std::fmt;

use serde::{Deserialize, Serialize};

/// How the live version got where a deployment record says it is. Records store it as
/// its kebab-case name (`rollback-full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentKind {
    /// `stackpro deploy` through CloudFormation: the stack runs the record's fingerprint.
    #[default]
    Deploy,
    /// `stackpro rollback --full`: an earlier template and artifact deployed again.
    RollbackFull,
    /// `stackpro rollback`: only the alias moved back; the stack did not.
    Rollback,
    /// `stackpro deploy --code`: UpdateFunctionCode, a version and the alias, without
    /// CloudFormation; the stack's view is behind until the next full deploy. Its
    /// fingerprint is the one the stack will have once it catches up.
    Code,
    /// A canary in progress: the record's version takes a share of the traffic.
    Canary,
    /// A canary that an alarm (or a failed watch) rolled back.
    CanaryRolledBack,
}

impl DeploymentKind {
    pub const ALL: [DeploymentKind; 6] = [
        DeploymentKind::Deploy,
        DeploymentKind::RollbackFull,
        DeploymentKind::Rollback,
        DeploymentKind::Code,
        DeploymentKind::Canary,
        DeploymentKind::CanaryRolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentKind::Deploy => "deploy",
            DeploymentKind::RollbackFull => "rollback-full",
            DeploymentKind::Rollback => "rollback",
            DeploymentKind::Code => "code",
            DeploymentKind::Canary => "canary",
            DeploymentKind::CanaryRolledBack => "canary-rolled-back",
        }
    }

    /// Whether the version of such a record runs the code and configuration of its
    /// fingerprint (a deploy, a full rollback, a code-only deploy). A fast rollback or a
    /// canary says where the alias was moved, not what the stack deploys.
    pub fn releases_fingerprint(self) -> bool {
        matches!(
            self,
            DeploymentKind::Deploy | DeploymentKind::RollbackFull | DeploymentKind::Code
        )
    }
}

impl fmt::Display for DeploymentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_spell_kinds_as_before() {
        for kind in DeploymentKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<DeploymentKind>(&json).unwrap(), kind);
        }
        assert!(DeploymentKind::Code.releases_fingerprint());
        assert!(!DeploymentKind::Rollback.releases_fingerprint());
    }
}
