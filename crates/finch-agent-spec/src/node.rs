//! Reading a [`Node`] from client input: `unix` or `windows`, in any case, with spaces around.
//!
//! Empty input is refused with Finch 1.x's text: the `unix` default lives only in the database
//! column, for rows that predate the node.

use std::str::FromStr;

use crate::Node;
use crate::error::{InputError, excerpt};

// === impl Node ===

impl FromStr for Node {
    type Err = InputError;

    /// ```
    /// use finch_agent_spec::{InputError, Node};
    ///
    /// assert_eq!(" Windows ".parse::<Node>(), Ok(Node::Windows));
    /// assert_eq!("".parse::<Node>(), Err(InputError::NodeRequired));
    /// ```
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let node = value.trim();
        if node.is_empty() {
            Err(InputError::NodeRequired)
        } else if node.eq_ignore_ascii_case("unix") {
            Ok(Node::Unix)
        } else if node.eq_ignore_ascii_case("windows") {
            Ok(Node::Windows)
        } else {
            Err(InputError::NodeInvalid(excerpt(node)))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn accepts_any_case_and_surrounding_spaces() {
        for (value, node) in [
            ("unix", Node::Unix),
            ("UNIX", Node::Unix),
            (" Unix\t", Node::Unix),
            ("windows", Node::Windows),
            ("WINDOWS ", Node::Windows),
            ("\nWindows", Node::Windows),
        ] {
            assert_eq!(value.parse::<Node>(), Ok(node), "{value:?}");
        }
    }

    #[test]
    fn empty_is_refused_with_the_1x_message() {
        for value in ["", "   "] {
            let err = value.parse::<Node>().unwrap_err();
            assert_eq!(err, InputError::NodeRequired);
            assert_eq!(err.to_string(), "node must be either 'windows' or 'unix'");
        }
    }

    #[test]
    fn other_values_are_quoted() {
        let err = "linux".parse::<Node>().unwrap_err();
        assert_eq!(err, InputError::NodeInvalid("linux".into()));
        assert_eq!(
            err.to_string(),
            "node \"linux\" is not valid: node must be either 'windows' or 'unix'"
        );
        assert!("unix windows".parse::<Node>().is_err());
        assert!("win".parse::<Node>().is_err());
    }

    #[test]
    fn stored_form_reads_back() {
        for node in [Node::Unix, Node::Windows] {
            assert_eq!(node.as_str().parse::<Node>(), Ok(node));
        }
    }
}
