//! `stackpro render`: write each capability's documents to disk.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{CapabilitySelection, GlobalArgs};
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::render::{Rendered, Renderer};

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub selection: CapabilitySelection,
    /// The environment to render for (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
    /// Directory to write into (default: .stackpro/rendered in the project); files go
    /// to <DIR>/<env>/<capability>/
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RenderReport {
    pub environment: String,
    pub documents: Vec<RenderedFiles>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RenderedFiles {
    pub capability: String,
    pub stack_name: String,
    pub resources: usize,
    pub template_sha256: String,
    pub template: PathBuf,
    pub dashboard: PathBuf,
    pub ssm: PathBuf,
}

impl fmt::Display for RenderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for doc in &self.documents {
            writeln!(
                f,
                "{:>12} {} ({}): {} resources, stack {}",
                "Rendered", doc.capability, self.environment, doc.resources, doc.stack_name
            )?;
            writeln!(f, "{:>12} {}", "", doc.template.display())?;
            writeln!(f, "{:>12} {}", "", doc.dashboard.display())?;
            writeln!(f, "{:>12} {}", "", doc.ssm.display())?;
        }
        Ok(())
    }
}

pub fn run(args: RenderArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let capabilities = args.selection.resolve(&catalogue)?;
    let env = catalogue.load_env(&project, &args.env)?;
    let out = args.out.unwrap_or_else(|| project.default_render_dir());

    let renderer = Renderer::new(&project);
    let mut documents = Vec::new();
    for cap in capabilities {
        let rendered = renderer.render(cap, &env)?;
        documents.push(write_rendered(&out, &rendered)?);
    }
    printer.report(&RenderReport {
        environment: env.name.clone(),
        documents,
    });
    Ok(())
}

/// Writes `text` to `<dir>/<name>`, creating `dir`; returns the path written.
pub fn write_document(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        action: "create directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|source| Error::Io {
        action: "write",
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Writes the three documents of `rendered` under `<out>/<env>/<capability>/`.
pub fn write_rendered(out: &Path, rendered: &Rendered) -> Result<RenderedFiles> {
    let dir = out.join(&rendered.environment).join(&rendered.capability);
    let write = |name: &str, text: &str| write_document(&dir, name, text);
    Ok(RenderedFiles {
        capability: rendered.capability.clone(),
        stack_name: rendered.stack_name.clone(),
        resources: rendered.resource_count(),
        template_sha256: rendered.template_sha256(),
        template: write("template.yaml", &rendered.template)?,
        dashboard: write("dashboard.json", &rendered.dashboard)?,
        ssm: write("ssm.yaml", &rendered.ssm)?,
    })
}
