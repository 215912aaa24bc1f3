//! Plan rules that live on attributes (`#[tf(default = ...)]`, `#[tf(use_state_for_unknown)]`,
//! `#[tf(requires_replace)]`, and the framework's own rule for computed values), applied by the server to
//! every resource, at every depth of nested attributes and blocks.
//!
//! The order is the one terraform-plugin-framework documents, so plans read the same as other providers':
//! defaults fill what the configuration leaves null; when the object changes (or is new), computed
//! attributes the configuration leaves null become unknown ("known after apply"); attributes that keep their
//! state take the prior value back; then the resource's own `plan` runs; last, replacement is decided by
//! comparing the prior state with the final plan. Elements of lists pair by index and of maps by key; a set's
//! elements have no stable identity, so inside a set only defaults apply, and a changed set whose elements
//! hold a replacing attribute replaces the object as a whole.

use super::path::AttributePath;
use super::schema::{Attribute, Block, BlockNesting, NestedBlock};
use super::value::Value;

/// An object's schema: attributes, and nested blocks where the object is a block.
#[derive(Clone, Copy)]
struct Object<'a> {
    attributes: &'a [Attribute],
    blocks: &'a [NestedBlock],
}

impl<'a> From<&'a Block> for Object<'a> {
    fn from(block: &'a Block) -> Self {
        Object { attributes: &block.attributes, blocks: &block.blocks }
    }
}

/// What a rule sees of one attribute: its schema, its configured and prior values where they pair with the
/// planned one (`None` when nothing pairs, as inside sets), the planned value, and its path.
struct Site<'v, 'p> {
    attribute: &'v Attribute,
    config: Option<&'v Value>,
    prior: Option<&'v Value>,
    planned: &'p mut Value,
    path: AttributePath,
    /// Inside a set, where nothing pairs with the planned value.
    in_set: bool,
}

/// The configured and prior values that pair with a planned one, and whether it lies inside a set.
#[derive(Clone, Copy)]
struct Pairs<'v> {
    config: Option<&'v Value>,
    prior: Option<&'v Value>,
    in_set: bool,
}

impl<'v> Pairs<'v> {
    fn attr(self, name: &str) -> Pairs<'v> {
        Pairs { config: self.config.and_then(|v| v.attr(name)), prior: self.prior.and_then(|v| v.attr(name)), ..self }
    }

    fn map(self, pick: impl Fn(&'v Value) -> Option<&'v Value>) -> Pairs<'v> {
        Pairs { config: self.config.and_then(&pick), prior: self.prior.and_then(&pick), ..self }
    }
}

/// Calls `rule` on every attribute of `object`, parents before what nests in them, and descends into the
/// planned value as the rule left it (an attribute made unknown has nothing below it to visit).
fn walk(
    object: Object<'_>,
    pairs: Pairs<'_>,
    planned: &mut Value,
    path: &AttributePath,
    rule: &mut dyn FnMut(Site<'_, '_>),
) {
    let Value::Object(fields) = planned else { return };
    for attribute in object.attributes {
        let Some(value) = fields.get_mut(&attribute.name) else { continue };
        let pairs = pairs.attr(&attribute.name);
        let here = path.attr(&attribute.name);
        let (config, prior, in_set) = (pairs.config, pairs.prior, pairs.in_set);
        rule(Site { attribute, config, prior, planned: value, path: here.clone(), in_set });
        if let Some(nested) = &attribute.nested {
            let inner = Object { attributes: &nested.attributes, blocks: &[] };
            walk_nested(inner, nested.nesting, pairs, value, &here, rule);
        }
    }
    for block in object.blocks {
        let Some(value) = fields.get_mut(&block.type_name) else { continue };
        let here = path.attr(&block.type_name);
        walk_nested(Object::from(&block.block), block.nesting, pairs.attr(&block.type_name), value, &here, rule);
    }
}

fn walk_nested(
    object: Object<'_>,
    nesting: BlockNesting,
    pairs: Pairs<'_>,
    planned: &mut Value,
    path: &AttributePath,
    rule: &mut dyn FnMut(Site<'_, '_>),
) {
    match (nesting, planned) {
        (BlockNesting::Single, planned) => walk(object, pairs, planned, path, rule),
        (BlockNesting::List, Value::List(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                let element = pairs.map(|v| match v {
                    Value::List(list) => list.get(i),
                    _ => None,
                });
                walk(object, element, item, &path.index(i as i64), rule);
            }
        }
        (BlockNesting::Map, Value::Map(items)) => {
            for (key, item) in items.iter_mut() {
                let element = pairs.map(|v| match v {
                    Value::Map(map) => map.get(key),
                    _ => None,
                });
                walk(object, element, item, &path.key(key), rule);
            }
        }
        (BlockNesting::Set, Value::Set(items)) => {
            let unpaired = Pairs { config: None, prior: None, in_set: true };
            for item in items.iter_mut() {
                walk(object, unpaired, item, path, rule);
            }
        }
        _ => {}
    }
}

/// Fills defaults where the configuration leaves an attribute null (inside sets, where the planned value is
/// null).
pub fn apply_defaults(block: &Block, config: &Value, planned: &mut Value) {
    walk(
        block.into(),
        Pairs { config: Some(config), prior: None, in_set: false },
        planned,
        &AttributePath::root(),
        &mut |site| {
            if let Some(default) = &site.attribute.default {
                let unset = site.config.map_or(site.planned.is_null(), Value::is_null);
                if unset {
                    *site.planned = default.clone();
                }
            }
        },
    );
}

/// Marks computed attributes that the configuration leaves null, and that have no default, as unknown:
/// their values come from apply. The server calls this on create and on an update that changes something.
pub fn mark_computed_unknown(block: &Block, config: &Value, planned: &mut Value) {
    walk(
        block.into(),
        Pairs { config: Some(config), prior: None, in_set: false },
        planned,
        &AttributePath::root(),
        &mut |site| {
            let a = site.attribute;
            if a.computed && a.default.is_none() && site.config.is_some_and(Value::is_null) {
                *site.planned = Value::Unknown;
            }
        },
    );
}

/// Gives attributes marked `use_state_for_unknown` their prior value back where the plan made them unknown,
/// unless the configuration itself is what is unknown.
pub fn use_state_for_unknown(block: &Block, prior: &Value, config: &Value, planned: &mut Value) {
    walk(
        block.into(),
        Pairs { config: Some(config), prior: Some(prior), in_set: false },
        planned,
        &AttributePath::root(),
        &mut |site| {
            if !site.attribute.use_state_for_unknown || !matches!(site.planned, Value::Unknown) {
                return;
            }
            if matches!(site.config, Some(Value::Unknown)) {
                return;
            }
            if let Some(prior) = site.prior.filter(|p| !p.is_null()) {
                *site.planned = prior.clone();
            }
        },
    );
}

/// The paths of attributes marked `requires_replace` whose planned value differs from the prior state.
pub fn replacing_paths(block: &Block, prior: &Value, planned: &Value) -> Vec<AttributePath> {
    let mut paths = Vec::new();
    let mut planned = planned.clone();
    walk(
        block.into(),
        Pairs { config: None, prior: Some(prior), in_set: false },
        &mut planned,
        &AttributePath::root(),
        &mut |site| {
            let a = site.attribute;
            if site.in_set {
                return;
            }
            let changed = site.prior.unwrap_or(&Value::Null) != &*site.planned;
            let set_of_replacing =
                matches!(&a.nested, Some(n) if n.nesting == BlockNesting::Set && any_replacing(&n.attributes));
            if changed && (a.requires_replace || set_of_replacing) {
                paths.push(site.path.clone());
            }
        },
    );
    // Set blocks, for the same reason as set attributes: their elements do not pair.
    for b in block.blocks.iter().filter(|b| b.nesting == BlockNesting::Set && block_replacing(&b.block)) {
        if prior.attr(&b.type_name) != planned.attr(&b.type_name) {
            paths.push(AttributePath::root().attr(&b.type_name));
        }
    }
    paths
}

fn any_replacing(attributes: &[Attribute]) -> bool {
    attributes.iter().any(|a| a.requires_replace || a.nested.as_ref().is_some_and(|n| any_replacing(&n.attributes)))
}

fn block_replacing(block: &Block) -> bool {
    any_replacing(&block.attributes) || block.blocks.iter().any(|b| block_replacing(&b.block))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::NestedObject;
    use crate::plugin::types::Type;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn attr(name: &str, f: impl FnOnce(&mut Attribute)) -> Attribute {
        let mut a = Attribute::new(name, Type::String, "");
        a.optional = true;
        f(&mut a);
        a
    }

    /// A rule list: `rules = [{ name, protocol (default "tcp"), id (computed, kept), zone (replaces) }]`,
    /// plus a top-level `revision` (computed) and `region` (replaces).
    fn schema() -> Block {
        let inner = vec![
            attr("name", |_| {}),
            attr("protocol", |a| {
                a.computed = true;
                a.default = Some(s("tcp"));
            }),
            attr("id", |a| {
                a.optional = false;
                a.computed = true;
                a.use_state_for_unknown = true;
            }),
            attr("zone", |a| a.requires_replace = true),
        ];
        let mut rules = Attribute::new(
            "rules",
            Type::list(Type::Object(inner.iter().map(|a| (a.name.clone(), a.ty.clone())).collect())),
            "",
        );
        rules.optional = true;
        rules.nested = Some(NestedObject { attributes: inner, nesting: BlockNesting::List });
        Block {
            attributes: vec![
                attr("region", |a| a.requires_replace = true),
                attr("revision", |a| {
                    a.optional = false;
                    a.computed = true;
                }),
                rules,
            ],
            ..Default::default()
        }
    }

    fn rule(name: &str, protocol: Value, id: Value, zone: &str) -> Value {
        obj(&[("name", s(name)), ("protocol", protocol), ("id", id), ("zone", s(zone))])
    }

    fn resource(region: &str, revision: Value, rules: Vec<Value>) -> Value {
        obj(&[("region", s(region)), ("revision", revision), ("rules", Value::List(rules))])
    }

    #[test]
    fn create_fills_nested_defaults_and_leaves_computed_values_unknown() {
        let config = resource("eu", Value::Null, vec![rule("a", Value::Null, Value::Null, "z1")]);
        let mut planned = config.clone();
        apply_defaults(&schema(), &config, &mut planned);
        mark_computed_unknown(&schema(), &config, &mut planned);
        assert_eq!(planned, resource("eu", Value::Unknown, vec![rule("a", s("tcp"), Value::Unknown, "z1")]));
    }

    #[test]
    fn an_update_keeps_state_where_asked_and_replaces_on_a_nested_change() {
        let prior = resource("eu", s("r1"), vec![rule("a", s("tcp"), s("id-1"), "z1")]);
        let config = resource("eu", Value::Null, vec![rule("b", Value::Null, Value::Null, "z2")]);
        // Terraform's proposal carries prior values into attributes the configuration leaves null.
        let mut planned = resource("eu", s("r1"), vec![rule("b", s("tcp"), s("id-1"), "z2")]);
        apply_defaults(&schema(), &config, &mut planned);
        mark_computed_unknown(&schema(), &config, &mut planned);
        use_state_for_unknown(&schema(), &prior, &config, &mut planned);
        assert_eq!(
            planned,
            resource("eu", Value::Unknown, vec![rule("b", s("tcp"), s("id-1"), "z2")]),
            "revision is known after apply; the rule's id keeps its state"
        );
        let paths: Vec<String> = replacing_paths(&schema(), &prior, &planned).iter().map(|p| p.to_string()).collect();
        assert_eq!(paths, ["rules[0].zone"]);
    }

    #[test]
    fn an_added_element_with_a_replacing_attribute_replaces_and_an_unchanged_plan_does_not() {
        let prior = resource("eu", s("r1"), vec![rule("a", s("tcp"), s("id-1"), "z1")]);
        assert!(replacing_paths(&schema(), &prior, &prior).is_empty());
        let grown = resource(
            "eu",
            s("r1"),
            vec![rule("a", s("tcp"), s("id-1"), "z1"), rule("b", s("udp"), Value::Unknown, "z1")],
        );
        let paths: Vec<String> = replacing_paths(&schema(), &prior, &grown).iter().map(|p| p.to_string()).collect();
        assert_eq!(paths, ["rules[1].zone"]);
        let moved = resource("us", s("r1"), vec![rule("a", s("tcp"), s("id-1"), "z1")]);
        let paths: Vec<String> = replacing_paths(&schema(), &prior, &moved).iter().map(|p| p.to_string()).collect();
        assert_eq!(paths, ["region"]);
    }

    #[test]
    fn unknown_configuration_is_not_replaced_by_state() {
        let prior = resource("eu", s("r1"), vec![rule("a", s("tcp"), s("id-1"), "z1")]);
        let config = resource("eu", Value::Null, vec![rule("a", Value::Null, Value::Unknown, "z1")]);
        let mut planned = resource("eu", s("r1"), vec![rule("a", s("tcp"), Value::Unknown, "z1")]);
        use_state_for_unknown(&schema(), &prior, &config, &mut planned);
        let Some(Value::List(rules)) = planned.attr("rules") else { panic!() };
        assert_eq!(rules[0].attr("id"), Some(&Value::Unknown));
    }

    #[test]
    fn sets_take_defaults_and_replace_as_a_whole() {
        let mut block = schema();
        let rules = block.attributes.iter_mut().find(|a| a.name == "rules").unwrap();
        rules.nested.as_mut().unwrap().nesting = BlockNesting::Set;
        let as_set = |v: Value| match v {
            Value::Object(mut m) => {
                if let Some(Value::List(items)) = m.remove("rules") {
                    m.insert("rules".into(), Value::Set(items));
                }
                Value::Object(m)
            }
            other => other,
        };
        let config = as_set(resource("eu", Value::Null, vec![rule("a", Value::Null, Value::Null, "z1")]));
        let mut planned = config.clone();
        apply_defaults(&block, &config, &mut planned);
        let Some(Value::Set(items)) = planned.attr("rules") else { panic!() };
        assert_eq!(items[0].attr("protocol"), Some(&s("tcp")));
        let prior = as_set(resource("eu", s("r1"), vec![rule("a", s("tcp"), s("id-1"), "z1")]));
        let changed = as_set(resource("eu", s("r1"), vec![rule("a", s("tcp"), s("id-1"), "z9")]));
        let paths: Vec<String> = replacing_paths(&block, &prior, &changed).iter().map(|p| p.to_string()).collect();
        assert_eq!(paths, ["rules"]);
    }
}
