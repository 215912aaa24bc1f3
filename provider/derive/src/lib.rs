//! `#[derive(TfSchema)]`: a Terraform schema from a typed struct.
//!
//! Each named field becomes an attribute (type from the field's Rust type, description from its doc
//! comment) or, with `#[tf(block)]`, a nested block. Field options, in `#[tf(...)]`:
//! `required`, `optional`, `computed` (combinable as `optional, computed`), `sensitive`, `write_only`,
//! `deprecated`, `block` (nesting from the container: `Vec` list, `BTreeSet` set, `BTreeMap` map, `Option`
//! single; or `block = "set"`), `nested` (a protocol-6 nested attribute, same nesting rules), `min_items = N`,
//! `max_items = N`, and the plan rules the server applies: `requires_replace` (a change replaces the object),
//! `use_state_for_unknown` (a computed value keeps its prior state on update), `default = <literal>` (a
//! string, number, bool, or an array of them, used when the configuration leaves the attribute null; needs
//! `optional, computed`). Without `required`/`optional`/`computed`, an `Option<_>` field is optional and any
//! other field is required. The struct's own doc comment becomes the block description.
//!
//! On the struct, `#[tf(crate = "path")]` names the plugin framework's module (default
//! `::terraform_provider_aviatrix::plugin`), so the framework can move to a crate of its own.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields, GenericArgument, LitStr, PathArguments, Type};

#[proc_macro_derive(TfSchema, attributes(tf))]
pub fn derive_tf_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct FieldOptions {
    required: bool,
    optional: bool,
    computed: bool,
    sensitive: bool,
    write_only: bool,
    deprecated: bool,
    block: Option<Option<String>>,
    nested: Option<Option<String>>,
    min_items: i64,
    max_items: i64,
    requires_replace: bool,
    use_state_for_unknown: bool,
    default: Option<syn::Expr>,
}

/// The framework's module path: `#[tf(crate = "...")]` on the struct, or the provider crate's `plugin`.
fn framework_path(attrs: &[syn::Attribute]) -> syn::Result<Tokens> {
    let mut path: Option<syn::Path> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("tf")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                path = Some(meta.value()?.parse::<LitStr>()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown tf option on a struct; expected crate = \"path\""))
            }
        })?;
    }
    Ok(match path {
        Some(p) => quote!(#p),
        None => quote!(::terraform_provider_aviatrix::plugin),
    })
}

fn doc_of(attrs: &[syn::Attribute]) -> String {
    let mut paragraphs: Vec<String> = vec![String::new()];
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) = &nv.value {
                let line = s.value().trim().to_string();
                let current = paragraphs.last_mut().expect("never empty");
                if line.is_empty() {
                    if !current.is_empty() {
                        paragraphs.push(String::new());
                    }
                } else {
                    if !current.is_empty() {
                        current.push(' ');
                    }
                    current.push_str(&line);
                }
            }
        }
    }
    paragraphs.retain(|p| !p.is_empty());
    paragraphs.join("\n\n")
}

fn options_of(field: &syn::Field) -> syn::Result<FieldOptions> {
    let mut o = FieldOptions::default();
    for attr in &field.attrs {
        if !attr.path().is_ident("tf") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            let ident = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            match ident.as_str() {
                "required" => o.required = true,
                "optional" => o.optional = true,
                "computed" => o.computed = true,
                "sensitive" => o.sensitive = true,
                "write_only" => o.write_only = true,
                "deprecated" => o.deprecated = true,
                "requires_replace" => o.requires_replace = true,
                "use_state_for_unknown" => o.use_state_for_unknown = true,
                "default" => o.default = Some(meta.value()?.parse::<syn::Expr>()?),
                "block" | "nested" => {
                    let mode = if meta.input.peek(syn::Token![=]) { Some(meta.value()?.parse::<LitStr>()?.value()) } else { None };
                    if ident == "block" {
                        o.block = Some(mode);
                    } else {
                        o.nested = Some(mode);
                    }
                }
                "min_items" => o.min_items = meta.value()?.parse::<syn::LitInt>()?.base10_parse()?,
                "max_items" => o.max_items = meta.value()?.parse::<syn::LitInt>()?.base10_parse()?,
                _ => return Err(meta.error("unknown tf option; expected required, optional, computed, sensitive, write_only, deprecated, requires_replace, use_state_for_unknown, default, block, nested, min_items or max_items")),
            }
            Ok(())
        })?;
    }
    Ok(o)
}

/// The container of a field type and its element type: `Vec<T>` gives ("Vec", T).
fn container_of(ty: &Type) -> Option<(String, Type)> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    let element = args.args.iter().rev().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    })?;
    Some((seg.ident.to_string(), element))
}

fn nesting_for(
    krate: &Tokens,
    ty: &Type,
    explicit: &Option<String>,
    field: &syn::Field,
) -> syn::Result<(Tokens, Type)> {
    // `Option<Vec<T>>` nests like `Vec<T>`: the option only says the whole collection may be null.
    let ty = match container_of(ty) {
        Some((c, inner)) if c == "Option" && container_of(&inner).is_some_and(|(c, _)| c != "Option") => inner,
        _ => ty.clone(),
    };
    let ty = &ty;
    let (container, element) = container_of(ty).unwrap_or(("".into(), ty.clone()));
    let mode = match explicit.as_deref() {
        Some(m) => m.to_string(),
        None => match container.as_str() {
            "Vec" => "list".into(),
            "BTreeSet" | "HashSet" => "set".into(),
            "BTreeMap" | "HashMap" => "map".into(),
            "Option" => "single".into(),
            _ => "single".into(),
        },
    };
    let element = if container.is_empty() { ty.clone() } else { element };
    let tokens = match mode.as_str() {
        "list" => quote!(#krate::schema::BlockNesting::List),
        "set" => quote!(#krate::schema::BlockNesting::Set),
        "map" => quote!(#krate::schema::BlockNesting::Map),
        "single" => quote!(#krate::schema::BlockNesting::Single),
        other => {
            return Err(syn::Error::new_spanned(
                field,
                format!("unknown nesting {other:?}; expected list, set, map or single"),
            ))
        }
    };
    Ok((tokens, element))
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(input, "TfSchema derives only for structs with named fields"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(input, "TfSchema derives only for structs with named fields"));
    };
    let krate = framework_path(&input.attrs)?;
    let block_doc = doc_of(&input.attrs);
    let mut attributes = Vec::new();
    let mut blocks = Vec::new();
    for field in &fields.named {
        let field_name = field.ident.as_ref().expect("named").to_string();
        let field_name = field_name.strip_prefix("r#").unwrap_or(&field_name).to_string();
        let doc = doc_of(&field.attrs);
        let o = options_of(field)?;
        let ty = &field.ty;
        let is_option = matches!(container_of(ty), Some((c, _)) if c == "Option");
        if let Some(mode) = &o.block {
            let (nesting, element) = nesting_for(&krate, ty, mode, field)?;
            let (min, max) = (o.min_items, o.max_items);
            blocks.push(quote! {{
                let mut block = <#element as #krate::schema::TfBlock>::block();
                if block.description.is_empty() { block.description = #doc.to_string(); }
                #krate::schema::NestedBlock {
                    type_name: #field_name.to_string(),
                    block,
                    nesting: #nesting,
                    min_items: #min,
                    max_items: #max,
                }
            }});
            continue;
        }
        let (required, optional, computed) = if o.required || o.optional || o.computed {
            (o.required, o.optional, o.computed)
        } else {
            (!is_option, is_option, false)
        };
        let (sensitive, write_only, deprecated) = (o.sensitive, o.write_only, o.deprecated);
        if o.default.is_some() && !(optional && computed) {
            return Err(syn::Error::new_spanned(
                field,
                "a default needs `optional, computed`: Terraform only accepts a planned value the configuration left null on a computed attribute",
            ));
        }
        if o.use_state_for_unknown && !computed {
            return Err(syn::Error::new_spanned(field, "use_state_for_unknown is for computed attributes"));
        }
        let (requires_replace, use_state_for_unknown) = (o.requires_replace, o.use_state_for_unknown);
        let default = match &o.default {
            Some(expr) => quote!(let a = a.with_default_json(#krate::__private::serde_json::json!(#expr));),
            None => quote!(),
        };
        let nested = match &o.nested {
            Some(mode) => {
                let (nesting, element) = nesting_for(&krate, ty, mode, field)?;
                quote!(Some(#krate::schema::NestedObject {
                    attributes: <#element as #krate::schema::TfBlock>::block().attributes,
                    nesting: #nesting,
                }))
            }
            None => quote!(None),
        };
        attributes.push(quote! {{
            let mut a = #krate::schema::Attribute::new(
                #field_name,
                <#ty as #krate::schema::TfType>::tf_type(),
                #doc,
            );
            a.required = #required;
            a.optional = #optional;
            a.computed = #computed;
            a.sensitive = #sensitive;
            a.write_only = #write_only;
            a.deprecated = #deprecated;
            a.nested = #nested;
            a.requires_replace = #requires_replace;
            a.use_state_for_unknown = #use_state_for_unknown;
            #default
            a
        }});
    }
    Ok(quote! {
        impl #krate::schema::TfBlock for #name {
            fn block() -> #krate::schema::Block {
                #krate::schema::Block {
                    attributes: vec![#(#attributes),*],
                    blocks: vec![#(#blocks),*],
                    description: #block_doc.to_string(),
                    deprecated: false,
                }
            }
        }
        impl #krate::schema::TfType for #name {
            fn tf_type() -> #krate::types::Type {
                <Self as #krate::schema::TfBlock>::block().value_type()
            }
        }
    })
}
