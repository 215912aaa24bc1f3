//! Attribute paths: where in a configuration a value or a diagnostic belongs (`domains[3]`, `tags["env"]`).

use std::fmt;

use super::proto::tfplugin6 as pb;

/// One step into a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Attr(String),
    Key(String),
    Index(i64),
}

/// A path from the root of a resource's configuration to one value in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttributePath(pub Vec<Step>);

impl AttributePath {
    pub fn root() -> AttributePath {
        AttributePath(Vec::new())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    fn with(&self, step: Step) -> AttributePath {
        let mut steps = self.0.clone();
        steps.push(step);
        AttributePath(steps)
    }

    pub fn attr(&self, name: &str) -> AttributePath {
        self.with(Step::Attr(name.to_string()))
    }

    pub fn key(&self, key: &str) -> AttributePath {
        self.with(Step::Key(key.to_string()))
    }

    pub fn index(&self, index: i64) -> AttributePath {
        self.with(Step::Index(index))
    }

    pub fn to_proto(&self) -> pb::AttributePath {
        use pb::attribute_path::{step::Selector, Step as PStep};
        pb::AttributePath {
            steps: self
                .0
                .iter()
                .map(|s| PStep {
                    selector: Some(match s {
                        Step::Attr(a) => Selector::AttributeName(a.clone()),
                        Step::Key(k) => Selector::ElementKeyString(k.clone()),
                        Step::Index(i) => Selector::ElementKeyInt(*i),
                    }),
                })
                .collect(),
        }
    }

    pub fn from_proto(path: &pb::AttributePath) -> AttributePath {
        use pb::attribute_path::step::Selector;
        AttributePath(
            path.steps
                .iter()
                .filter_map(|s| {
                    Some(match s.selector.as_ref()? {
                        Selector::AttributeName(a) => Step::Attr(a.clone()),
                        Selector::ElementKeyString(k) => Step::Key(k.clone()),
                        Selector::ElementKeyInt(i) => Step::Index(*i),
                    })
                })
                .collect(),
        )
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(root)");
        }
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Attr(a) if i == 0 => write!(f, "{a}")?,
                Step::Attr(a) => write!(f, ".{a}")?,
                Step::Key(k) => write!(f, "[{k:?}]")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_terraform_and_round_trips_through_the_protocol() {
        let path = AttributePath::root().attr("rules").index(2).attr("tags").key("env");
        assert_eq!(path.to_string(), r#"rules[2].tags["env"]"#);
        assert_eq!(AttributePath::from_proto(&path.to_proto()), path);
    }
}
