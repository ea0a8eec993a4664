//! Garbage collection of the artifact bucket: which handler zips (`artifacts/<cap>/`)
//! and stored templates (`templates/<cap>/`) no deployment needs any more.
//!
//! An object is kept when any of these holds, and the first that does is said:
//! 1. a deployment record among the capability's last `keep` names it (what a rollback
//!    or `rollback --full` may ask for);
//! 2. the version the live alias serves, or a canary's, was recorded with it (however
//!    old that record is);
//! 3. the capability's stack names it now (`ArtifactKey`: a failed update rolls the
//!    stack back to it, and a code-only deploy leaves it behind);
//! 4. it is younger than the minimum age (a deploy in flight uploads before it records);
//! 5. its capability has no needs in the judgement (the command fails when a
//!    capability's records, alias or stack cannot be read, rather than guess).
//!
//! Everything else under those two prefixes may be deleted; nothing else in the bucket
//! is ever considered. The planning here is pure; `commands::gc` reads and deletes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aws::s3::ObjectInfo;
use crate::deploy::template_key;
use crate::record::Deployment;
use crate::release::Live;

/// The prefixes gc looks under.
pub const PREFIXES: [&str; 2] = ["artifacts/", "templates/"];

/// What one capability's deployments need, as read from AWS.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// Every deployment record, oldest first.
    pub history: Vec<Deployment>,
    pub live: Option<Live>,
    /// The stack's `ArtifactKey` parameter, when the stack exists.
    pub stack_artifact_key: Option<String>,
}

/// The capability an object belongs to: `artifacts/<cap>/...` or `templates/<cap>/...`.
pub fn capability_of(key: &str) -> Option<&str> {
    let rest = PREFIXES.iter().find_map(|p| key.strip_prefix(p))?;
    let (cap, file) = rest.split_once('/')?;
    (!cap.is_empty() && !file.is_empty()).then_some(cap)
}

/// The keys a capability's deployments need, each with the reason.
pub fn needed(capability: &str, needs: &Needs, keep: usize) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut need = |key: String, why: String| {
        out.entry(key).or_insert(why);
    };
    let live_versions: Vec<&str> = needs
        .live
        .iter()
        .flat_map(|l| {
            std::iter::once(l.version.as_str()).chain(l.canary.iter().map(|c| c.0.as_str()))
        })
        .collect();
    for d in needs.history.iter().rev() {
        if live_versions.contains(&d.function_version.as_str()) {
            let why = format!("the live alias serves version {}", d.function_version);
            need(d.artifact_key.clone(), why.clone());
            need(template_key(capability, &d.template_sha256), why);
        }
    }
    for d in needs.history.iter().rev().take(keep) {
        let why = format!(
            "deployment #{} is among the last {keep}",
            d.number.unwrap_or(0)
        );
        need(d.artifact_key.clone(), why.clone());
        need(template_key(capability, &d.template_sha256), why);
    }
    if let Some(key) = &needs.stack_artifact_key {
        need(key.clone(), "the stack names it (ArtifactKey)".into());
    }
    out.retain(|k, _| !k.is_empty());
    out
}

/// One object's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    pub key: String,
    pub capability: String,
    pub bytes: i64,
    pub age_seconds: i64,
    /// Why it is kept; `None`: it may be deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_because: Option<String>,
}

/// Each object's verdict. `needed` is per capability; a capability missing from it
/// could not be read, so its objects are kept.
pub fn judge(
    objects: &[ObjectInfo],
    needed: &BTreeMap<String, BTreeMap<String, String>>,
    now: i64,
    min_age_seconds: i64,
) -> Vec<Verdict> {
    objects
        .iter()
        .filter_map(|o| {
            let cap = capability_of(&o.key)?;
            let age = now - o.last_modified;
            let kept_because = match needed.get(cap) {
                None => Some(format!("{cap}'s deployments could not be read")),
                Some(keys) => keys.get(&o.key).cloned().or_else(|| {
                    (age < min_age_seconds)
                        .then(|| format!("younger than the minimum age ({min_age_seconds} s)"))
                }),
            };
            Some(Verdict {
                key: o.key.clone(),
                capability: cap.to_string(),
                bytes: o.bytes,
                age_seconds: age,
                kept_because,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::DeploymentKind;

    fn record(n: i64, zip: &str, template: &str, version: &str) -> Deployment {
        Deployment {
            time: String::new(),
            actor: String::new(),
            git_commit: None,
            artifact_sha256: String::new(),
            artifact_key: format!("artifacts/m/{zip}.zip"),
            code_sha256: String::new(),
            template_sha256: template.into(),
            fingerprint: String::new(),
            function_version: version.into(),
            kind: DeploymentKind::Deploy,
            number: Some(n),
        }
    }

    fn object(key: &str, last_modified: i64) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            bytes: 10,
            last_modified,
        }
    }

    #[test]
    fn objects_belong_to_the_capability_their_key_names() {
        assert_eq!(
            capability_of("artifacts/messaging/abc.zip"),
            Some("messaging")
        );
        assert_eq!(capability_of("templates/ai/t.yaml"), Some("ai"));
        assert_eq!(capability_of("artifacts/abc.zip"), None);
        assert_eq!(capability_of("other/m/x"), None);
        assert_eq!(capability_of("artifacts//x"), None);
    }

    #[test]
    fn the_last_records_the_live_version_and_the_stack_keep_their_objects() {
        let needs = Needs {
            history: vec![
                record(1, "a", "t1", "1"),
                record(2, "b", "t1", "2"),
                record(3, "c", "t2", "3"),
                record(4, "d", "t2", "4"),
            ],
            live: Some(Live {
                version: "1".into(),
                canary: None,
            }),
            stack_artifact_key: Some("artifacts/m/x.zip".into()),
        };
        let keys = needed("m", &needs, 1);
        assert!(keys["artifacts/m/a.zip"].contains("live alias serves version 1"));
        assert!(keys["templates/m/t1.yaml"].contains("live alias"));
        assert!(keys["artifacts/m/d.zip"].contains("#4 is among the last 1"));
        assert!(keys["templates/m/t2.yaml"].contains("#4"));
        assert!(keys["artifacts/m/x.zip"].contains("ArtifactKey"));
        assert!(!keys.contains_key("artifacts/m/b.zip"));
        assert!(!keys.contains_key("artifacts/m/c.zip"));

        let canary = Needs {
            live: Some(Live {
                version: "3".into(),
                canary: Some(("2".into(), 0.1)),
            }),
            ..needs
        };
        let keys = needed("m", &canary, 0);
        assert!(keys.contains_key("artifacts/m/b.zip") && keys.contains_key("artifacts/m/c.zip"));
        assert!(
            !keys.contains_key("artifacts/m/d.zip"),
            "keep 0: only what is live"
        );
    }

    #[test]
    fn young_objects_and_unreadable_capabilities_are_kept_and_other_prefixes_ignored() {
        let mut needed = BTreeMap::new();
        needed.insert(
            "m".to_string(),
            BTreeMap::from([("artifacts/m/live.zip".to_string(), "live".to_string())]),
        );
        let objects = [
            object("artifacts/m/live.zip", 0),
            object("artifacts/m/old.zip", 0),
            object("artifacts/m/new.zip", 990),
            object("templates/gone/t.yaml", 0),
            object("artifacts/readme.txt", 0),
        ];
        let v = judge(&objects, &needed, 1000, 60);
        let by_key: BTreeMap<&str, Option<&str>> = v
            .iter()
            .map(|v| (v.key.as_str(), v.kept_because.as_deref()))
            .collect();
        assert_eq!(by_key.len(), 4, "a key outside the layout is never judged");
        assert_eq!(by_key["artifacts/m/live.zip"], Some("live"));
        assert_eq!(by_key["artifacts/m/old.zip"], None);
        assert!(by_key["artifacts/m/new.zip"].unwrap().contains("younger"));
        assert!(by_key["templates/gone/t.yaml"]
            .unwrap()
            .contains("could not be read"));
    }
}
