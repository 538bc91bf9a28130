//! From settings to running parts: the one place that joins config and
//! sources. Config validates the common keys and hands each source's spec
//! to its kind, which parses its own options and is built then, once:
//! `config check`, the cockpit and `check`/`report` use the same parse, and
//! no token or kubeconfig is read twice.

use std::sync::Arc;

use crate::config::{self, Config, ConfigErrors, Layers, Settings};
use crate::sources::{self, ActiveSource, Source};

/// A validated configuration with its sources built, in spec order.
pub struct Loaded {
    pub config: Config,
    built: Vec<Arc<dyn Source>>,
}

impl Loaded {
    /// The sources with their cells, ready for the poller.
    pub fn activate(&self) -> Vec<ActiveSource> {
        sources::attach(&self.config.sources, self.built.clone(), &self.config.fleet)
    }
}

/// Validate merged settings and build every source once.
pub fn load(settings: &Settings, layers: &Layers) -> Result<Loaded, ConfigErrors> {
    let mut built = Vec::new();
    let config = config::validate_settings(settings, layers, &mut |spec| {
        built.push(sources::build(spec)?);
        Ok(())
    })?;
    Ok(Loaded { config, built })
}

/// As [`load`], for a seat in team mode that polls only when it leads: a
/// source whose token variable is not set on this seat is kept as a
/// [`sources::Tokenless`] placeholder instead of an error. Returns the
/// names of those sources: a seat with any follows and never leads.
pub fn load_team_seat(settings: &Settings, layers: &Layers) -> Result<(Loaded, Vec<String>), ConfigErrors> {
    let mut built = Vec::new();
    let mut tokenless = Vec::new();
    let config = config::validate_settings(settings, layers, &mut |spec| {
        match sources::build(spec) {
            Ok(source) => built.push(source),
            Err(errors) if sources::Tokenless::only_missing_token(&errors) => {
                built.push(Arc::new(sources::Tokenless::new(spec)));
                tokenless.push(spec.name.clone());
            }
            Err(errors) => return Err(errors),
        }
        Ok(())
    })?;
    Ok((Loaded { config, built }, tokenless))
}

/// Parse and validate a whole configuration held in a string (the demo,
/// tests), with every source kind's options checked. `origin` names it in
/// error messages.
pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
    config::from_toml_str_with(text, origin, &mut |spec| sources::build(spec).map(|_| ()))
}
