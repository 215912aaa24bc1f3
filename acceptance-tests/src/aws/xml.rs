//! Reading EC2's XML answers: an owned element tree built with roxmltree, and the few look-ups the lab needs.

use serde_json::{Map, Value};

/// An element: local name, own text, children.
#[derive(Clone, Debug, Default)]
pub struct Elem {
    pub name: String,
    pub text: String,
    pub children: Vec<Elem>,
}

impl Elem {
    /// Parses a document into its root element.
    pub fn parse(doc: &str) -> Option<Elem> {
        let parsed = roxmltree::Document::parse(doc).ok()?;
        Some(convert(parsed.root_element()))
    }

    pub fn child(&self, name: &str) -> Option<&Elem> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the child `name`, or "".
    pub fn text(&self, name: &str) -> String {
        self.child(name).map(|c| c.text.clone()).unwrap_or_default()
    }

    /// The `item` children of the child `set`.
    pub fn items(&self, set: &str) -> Vec<&Elem> {
        self.child(set).map(|s| s.children.iter().filter(|c| c.name == "item").collect()).unwrap_or_default()
    }

    /// `tagSet` as a JSON map.
    pub fn tags(&self) -> Value {
        let mut map = Map::new();
        for tag in self.items("tagSet") {
            map.insert(tag.text("key"), Value::String(tag.text("value")));
        }
        Value::Object(map)
    }

    /// The first element named `name`, depth first (including self).
    pub fn find(&self, name: &str) -> Option<&Elem> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

fn convert(node: roxmltree::Node) -> Elem {
    let mut elem = Elem { name: node.tag_name().name().to_string(), ..Elem::default() };
    for child in node.children() {
        if child.is_element() {
            elem.children.push(convert(child));
        } else if child.is_text() {
            elem.text.push_str(child.text().unwrap_or(""));
        }
    }
    elem.text = elem.text.trim().to_string();
    elem
}

/// The `item`s of the first `set` element in `doc`.
pub fn items(doc: &str, set: &str) -> Vec<Elem> {
    Elem::parse(doc)
        .and_then(|root| root.find(set).map(|s| s.children.iter().filter(|c| c.name == "item").cloned().collect()))
        .unwrap_or_default()
}

/// The text of the first element named `name` in `doc`, or "".
pub fn first(doc: &str, name: &str) -> String {
    Elem::parse(doc).and_then(|root| root.find(name).map(|e| e.text.clone())).unwrap_or_default()
}

/// The code and message of an EC2 error document.
pub fn error(doc: &str) -> Option<(String, String)> {
    let root = Elem::parse(doc)?;
    let error = root.find("Error")?;
    Some((error.text("Code"), error.text("Message")))
}

/// Escapes text for XML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_items_tags_and_errors() {
        let doc = r#"<?xml version="1.0"?><DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><vpcSet><item><vpcId>vpc-1</vpcId><tagSet><item><key>Name</key><value>lab</value></item></tagSet></item><item><vpcId>vpc-2</vpcId></item></vpcSet></DescribeVpcsResponse>"#;
        let vpcs = items(doc, "vpcSet");
        assert_eq!(vpcs.iter().map(|v| v.text("vpcId")).collect::<Vec<_>>(), ["vpc-1", "vpc-2"]);
        assert_eq!(vpcs[0].tags(), serde_json::json!({"Name": "lab"}));
        assert_eq!(first(doc, "vpcId"), "vpc-1");
        let err = crate::aws::error_xml("RouteAlreadyExists", "The route identified by 0.0.0.0/0 already exists.");
        assert_eq!(
            error(&err),
            Some(("RouteAlreadyExists".into(), "The route identified by 0.0.0.0/0 already exists.".into()))
        );
    }
}
