//! A configured source as plain data: what config hands to the source
//! kinds, which parse their own `options` from it.

use std::time::Duration;

use super::{EnvIdx, Evidence, ServiceIdx};

/// One configured source, its cells resolved to indices. The kind-specific
/// `options` are the kind's to parse and check.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: String,
    pub kind: String,
    pub every: Duration,
    pub timeout: Duration,
    /// `None`: the kind's own default evidence level.
    pub evidence: Option<Evidence>,
    pub services: Vec<ServiceIdx>,
    pub environments: Vec<EnvIdx>,
    pub options: serde_json::Map<String, serde_json::Value>,
    /// When metrics sources measure trigger baselines (`[rollback] baseline`).
    pub baseline: Option<super::rollback::BaselineAt>,
}

/// A problem with a source's own keys, relative to the source (`url`, `fields.version`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub key: String,
    pub message: String,
}

impl OptionError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        OptionError { key: key.into(), message: message.into() }
    }
}
