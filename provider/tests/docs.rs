//! docs/ is rendered from the schemas: this fails when a page is stale. `UPDATE_DOCS=1 cargo test -p
//! terraform-provider-aviatrix --test docs` rewrites them.

#[test]
fn docs_match_the_schemas() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (path, contents) in terraform_provider_aviatrix::docs::render_all() {
        let file = root.join(&path);
        if update {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &contents).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(contents.as_str()) {
            stale.push(path);
        }
    }
    assert!(
        stale.is_empty(),
        "stale docs {stale:?}: run UPDATE_DOCS=1 cargo test -p terraform-provider-aviatrix --test docs"
    );
}
