//! Registry-format documentation rendered from the schemas, so that code, plan output and docs share one
//! source. `docs/` holds the rendered pages; a test fails when they are stale (`UPDATE_DOCS=1` rewrites them).

use std::fmt::Write;
use std::sync::Arc;

use crate::plugin::component::{DynDataSource, DynFunction, DynResource};
use crate::plugin::schema::{Attribute, Block, Schema};
use crate::plugin::Provider;
use crate::provider::AviatrixProvider;

/// Every page: (path under `docs/`, contents).
pub fn render_all() -> Vec<(String, String)> {
    let provider = Arc::new(AviatrixProvider::default());
    let mut pages = vec![("index.md".to_string(), render_index())];
    for r in provider.resources() {
        pages.push((
            format!("resources/{}.md", r.type_name().trim_start_matches("aviatrix_")),
            render_resource(r.as_ref()),
        ));
    }
    for ds in provider.data_sources() {
        pages.push((
            format!("data-sources/{}.md", ds.type_name().trim_start_matches("aviatrix_")),
            render_data_source(ds.as_ref()),
        ));
    }
    for f in provider.functions() {
        pages.push((format!("functions/{}.md", f.name()), render_function(f.as_ref())));
    }
    pages
}

fn example(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|_| panic!("example {} is missing", full.display()))
}

fn attribute_line(out: &mut String, indent: &str, prefix: &str, a: &Attribute) {
    let mut flags = Vec::new();
    if a.sensitive {
        flags.push("Sensitive".to_string());
    }
    if a.write_only {
        flags.push("Write-only".to_string());
    }
    if a.requires_replace {
        flags.push("Forces replacement".to_string());
    }
    if let Some(default) = &a.default {
        let shown = default.to_json(&a.ty).map(|j| j.to_string()).unwrap_or_else(|_| format!("{default:?}"));
        flags.push(format!("Default `{shown}`"));
    }
    let flags = if flags.is_empty() { String::new() } else { format!(", {}", flags.join(", ")) };
    let _ = writeln!(out, "{indent}- `{prefix}{}` ({}{flags}) {}", a.name, a.ty.friendly(), a.description);
}

/// Picks the attributes of one group of a schema page.
type Group = (&'static str, fn(&Attribute) -> bool);

fn render_block(out: &mut String, block: &Block, prefix: &str) {
    let groups: [Group; 3] =
        [("Required", |a| a.required), ("Optional", |a| a.optional), ("Read-Only", |a| a.computed && !a.optional)];
    for (title, pick) in groups {
        let attrs: Vec<&Attribute> = block.attributes.iter().filter(|a| pick(a)).collect();
        if attrs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n### {title}\n");
        for a in attrs {
            attribute_line(out, "", prefix, a);
            if let Some(nested) = &a.nested {
                for n in &nested.attributes {
                    attribute_line(out, "  ", &format!("{prefix}{}.", a.name), n);
                }
            }
        }
    }
    for b in &block.blocks {
        let _ = writeln!(
            out,
            "\n### Block `{prefix}{}` (at most {})\n\n{}\n",
            b.type_name, b.max_items, b.block.description
        );
        for a in &b.block.attributes {
            attribute_line(out, "", &format!("{prefix}{}.", b.type_name), a);
        }
    }
}

fn render_index() -> String {
    let schema = Schema::of::<<AviatrixProvider as Provider>::Config>(0);
    let mut out = String::from(
        "---\npage_title: \"aviatrix (mcp-egress/aviatrix) Provider\"\n---\n\n# aviatrix provider (mcp-egress/aviatrix)\n\n",
    );
    let _ = writeln!(out, "{}\n", schema.block.description);
    let _ = writeln!(out, "## Example Usage\n\n```terraform\n{}```", example("provider/provider.tf"));
    out.push_str("\n## Schema\n");
    render_block(&mut out, &schema.block, "");
    out
}

/// A resource page: description, example, schema, and how to import (`resources/NAME/import.sh`).
fn render_resource(r: &dyn DynResource) -> String {
    let schema = r.schema();
    let name = r.type_name();
    let mut out =
        format!("---\npage_title: \"{name} Resource\"\n---\n\n# Resource: {name}\n\n{}\n\n", schema.block.description);
    let _ = writeln!(out, "## Example Usage\n\n```terraform\n{}```", example(&format!("resources/{name}/resource.tf")));
    out.push_str("\n## Schema\n");
    render_block(&mut out, &schema.block, "");
    let _ = writeln!(out, "\n## Import\n\n```shell\n{}```", example(&format!("resources/{name}/import.sh")));
    out
}

fn render_data_source(ds: &dyn DynDataSource) -> String {
    let schema = ds.schema();
    let name = ds.type_name();
    let mut out = format!(
        "---\npage_title: \"{name} Data Source\"\n---\n\n# Data Source: {name}\n\n{}\n\n",
        schema.block.description
    );
    let _ = writeln!(
        out,
        "## Example Usage\n\n```terraform\n{}```",
        example(&format!("data-sources/{name}/data-source.tf"))
    );
    out.push_str("\n## Schema\n");
    render_block(&mut out, &schema.block, "");
    out
}

fn render_function(f: &dyn DynFunction) -> String {
    let name = f.name();
    let params: Vec<String> = f.parameters().iter().map(|p| format!("{} {}", p.name, p.ty.friendly())).collect();
    let mut out = format!(
        "---\npage_title: \"{name} Function\"\n---\n\n# Function: {name}\n\n{}\n\n{}\n\n",
        f.summary(),
        f.description()
    );
    let _ = writeln!(out, "## Example Usage\n\n```terraform\n{}```", example(&format!("functions/{name}/function.tf")));
    let _ = writeln!(
        out,
        "\n## Signature\n\n```text\n{name}({}) {}\n```\n\n## Arguments\n",
        params.join(", "),
        f.return_type().friendly()
    );
    for (i, p) in f.parameters().iter().enumerate() {
        let _ = writeln!(out, "{}. `{}` ({}) {}", i + 1, p.name, p.ty.friendly(), p.description);
    }
    out
}
