//! `stackpro list`: what the project declares.

use std::fmt;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use crate::config::Catalogue;
use crate::error::Result;
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct ListArgs {}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ListReport {
    pub capabilities: Vec<CapabilitySummary>,
    pub environments: Vec<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CapabilitySummary {
    pub name: String,
    pub description: String,
    pub binary: String,
    pub routes: usize,
    pub tables: Vec<String>,
    pub buckets: Vec<String>,
}

impl fmt::Display for ListReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "capabilities:")?;
        for c in &self.capabilities {
            let buckets = if c.buckets.is_empty() {
                String::new()
            } else {
                format!("; buckets: {}", c.buckets.join(", "))
            };
            writeln!(
                f,
                "  {:<10} {} ({} routes; tables: {}{buckets}; binary {})",
                c.name,
                c.description,
                c.routes,
                c.tables.join(", "),
                c.binary
            )?;
        }
        writeln!(f, "environments: {}", self.environments.join(", "))
    }
}

pub fn run(_args: ListArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let report = ListReport {
        capabilities: catalogue
            .capabilities
            .iter()
            .map(|c| CapabilitySummary {
                name: c.name.clone(),
                description: c.description.clone(),
                binary: c.handler.binary.clone(),
                routes: c.routes.len(),
                tables: c.tables.iter().map(|t| t.name.clone()).collect(),
                buckets: c.buckets.iter().map(|b| b.name.clone()).collect(),
            })
            .collect(),
        environments: Catalogue::env_names(&project)?,
    };
    printer.report(&report);
    Ok(())
}
