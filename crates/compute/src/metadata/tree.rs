//! The EC2-style document tree and how Nova prints it: a directory lists its
//! entries one a line (sorted, sub-directories with a trailing `/`, or as
//! their display name such as `0=mykey` under `public-keys/`), a list prints
//! one item a line, a leaf prints its value.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// Entries, and the name a listing of the parent shows instead of
    /// `key/` (Nova's `_name`).
    Dir(BTreeMap<String, Node>, Option<String>),
    List(Vec<String>),
    Text(String),
    Int(i64),
    Bytes(Vec<u8>),
}

impl Node {
    pub(crate) fn dir() -> Node {
        Node::Dir(BTreeMap::new(), None)
    }

    /// Adds an entry (no-op on a non-directory).
    pub(crate) fn with(mut self, key: &str, v: Node) -> Node {
        if let Node::Dir(m, _) = &mut self {
            m.insert(key.to_string(), v);
        }
        self
    }

    pub(crate) fn text(s: impl Into<String>) -> Node {
        Node::Text(s.into())
    }

    /// The node at `path` (tokens after the version), None when there is none.
    pub(crate) fn find(&self, path: &[&str]) -> Option<&Node> {
        let mut n = self;
        for t in path {
            n = match n {
                Node::Dir(m, _) => m.get(*t)?,
                _ => return None,
            };
        }
        Some(n)
    }

    /// The body Nova's metadata handler prints for this node.
    pub(crate) fn print(&self) -> Vec<u8> {
        match self {
            Node::Dir(m, _) => {
                let lines: Vec<String> = m
                    .iter()
                    .map(|(k, v)| match v {
                        Node::Dir(_, Some(name)) => name.clone(),
                        Node::Dir(_, None) => format!("{k}/"),
                        _ => k.clone(),
                    })
                    .collect();
                lines.join("\n").into_bytes()
            }
            Node::List(items) => items.join("\n").into_bytes(),
            Node::Text(s) => s.clone().into_bytes(),
            Node::Int(i) => i.to_string().into_bytes(),
            Node::Bytes(b) => b.clone(),
        }
    }

    /// The JSON form (config drive's `ec2/*/meta-data.json`): display names
    /// dropped, byte leaves as (lossy) text.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Node::Dir(m, _) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Node::List(items) => Value::from(items.clone()),
            Node::Text(s) => Value::from(s.clone()),
            Node::Int(i) => Value::from(*i),
            Node::Bytes(b) => Value::from(String::from_utf8_lossy(b).into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_marks_dirs_and_display_names() {
        let keys = Node::dir().with("0", Node::Dir(BTreeMap::new(), Some("0=mykey".into())));
        let t = Node::dir().with("b", Node::text("x")).with("a", Node::dir()).with("public-keys", keys);
        assert_eq!(String::from_utf8(t.print()).unwrap(), "a/\nb\npublic-keys/");
        let pk = t.find(&["public-keys"]).unwrap();
        assert_eq!(String::from_utf8(pk.print()).unwrap(), "0=mykey");
        assert!(t.find(&["nope"]).is_none());
        assert!(t.find(&["b", "c"]).is_none());
        assert_eq!(t.to_json()["public-keys"]["0"], serde_json::json!({}));
    }
}
