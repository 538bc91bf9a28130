//! Checklist templates: phases due relative to the release window, items
//! with a role, required or optional, maybe bound to a live condition, and
//! the sign-offs each phase needs. Built in per release kind
//! (`assets/checklists/`), overridable in the config dir, or named by the
//! release plan.

use std::fmt;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use serde::Deserialize;

use super::condition::Condition;
use crate::model::Fleet;

/// The built-in templates, by name.
pub(crate) const BUILT_IN: &[(&str, &str)] = &[
    ("patch", include_str!("../../assets/checklists/patch.toml")),
    ("minor", include_str!("../../assets/checklists/minor.toml")),
    ("major", include_str!("../../assets/checklists/major.toml")),
    ("hotfix", include_str!("../../assets/checklists/hotfix.toml")),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub description: String,
    /// Where it came from, for messages ("built-in", a path).
    pub origin: String,
    pub phases: Vec<Phase>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub id: String,
    pub title: String,
    /// Relative to the start of the release window (negative: before).
    pub due: SignedDuration,
    /// Roles that must sign off by this phase's due time.
    pub signoffs: Vec<String>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub role: String,
    pub required: bool,
    pub condition: Option<Condition>,
}

impl Template {
    /// Every item with its phase index.
    pub fn items(&self) -> impl Iterator<Item = (usize, &Item)> {
        self.phases.iter().enumerate().flat_map(|(p, phase)| phase.items.iter().map(move |i| (p, i)))
    }

    pub fn item(&self, id: &str) -> Option<(usize, &Item)> {
        self.items().find(|(_, i)| i.id == id)
    }

    /// Every required sign-off role with the phase it is due in.
    pub fn signoffs(&self) -> impl Iterator<Item = (usize, &str)> {
        self.phases.iter().enumerate().flat_map(|(p, phase)| phase.signoffs.iter().map(move |r| (p, r.as_str())))
    }
}

/// A template that could not be used: which file, which item, what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateError {
    pub origin: String,
    pub item: Option<String>,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.item {
            Some(item) => write!(f, "{}: item `{item}`: {}", self.origin, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    name: String,
    #[serde(default)]
    description: String,
    phases: Vec<PhaseFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseFile {
    id: String,
    title: String,
    due: String,
    #[serde(default)]
    signoffs: Vec<String>,
    #[serde(default)]
    items: Vec<ItemFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemFile {
    id: String,
    title: String,
    role: String,
    #[serde(default = "required_by_default")]
    required: bool,
    condition: Option<String>,
}

fn required_by_default() -> bool {
    true
}

/// `-24h`, `0s`, `15m`, `+1h`: a signed humane duration.
pub(crate) fn parse_due(raw: &str) -> Result<SignedDuration, String> {
    let raw = raw.trim();
    let (sign, rest) = match raw.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, raw.strip_prefix('+').unwrap_or(raw)),
    };
    if rest.trim() == "0" {
        return Ok(SignedDuration::ZERO);
    }
    let d = humantime::parse_duration(rest.trim())
        .map_err(|e| format!("invalid due time `{raw}` ({e}); write it like -24h, -4h, 0s, 15m or 1h"))?;
    let d = SignedDuration::try_from(d).map_err(|_| format!("due time `{raw}` is too far away"))?;
    Ok(if sign < 0 { -d } else { d })
}

/// Parse and check a template's text. Conditions are resolved against the
/// fleet (environment names, `$prod`, `$staging`).
pub fn parse(text: &str, origin: &str, fleet: &Fleet) -> Result<Template, TemplateError> {
    let err = |item: Option<&str>, message: String| TemplateError {
        origin: origin.to_string(),
        item: item.map(String::from),
        message,
    };
    let file: TemplateFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| format!(" (line {})", text[..s.start.min(text.len())].matches('\n').count() + 1));
        err(None, format!("{}{}", e.message().trim(), line.unwrap_or_default()))
    })?;
    if file.phases.is_empty() {
        return Err(err(None, "a template needs at least one [[phases]]".into()));
    }
    let mut ids = std::collections::HashSet::new();
    let mut phase_ids = std::collections::HashSet::new();
    let mut phases = Vec::new();
    let mut last_due: Option<SignedDuration> = None;
    for p in file.phases {
        if !phase_ids.insert(p.id.clone()) {
            return Err(err(None, format!("duplicate phase `{}`", p.id)));
        }
        let due = parse_due(&p.due).map_err(|m| err(None, format!("phase `{}`: {m}", p.id)))?;
        if last_due.is_some_and(|d| due < d) {
            return Err(err(None, format!("phase `{}` is due before the phase above it: list phases in order", p.id)));
        }
        last_due = Some(due);
        let mut items = Vec::new();
        for i in p.items {
            if !crate::config::validate::valid_name(&i.id) {
                return Err(err(Some(&i.id), "item ids use letters, digits, '-' and '_'".into()));
            }
            if !ids.insert(i.id.clone()) {
                return Err(err(Some(&i.id), "duplicate item id".into()));
            }
            if i.title.trim().is_empty() || i.role.trim().is_empty() {
                return Err(err(Some(&i.id), "an item needs a title and a role".into()));
            }
            let condition = match &i.condition {
                Some(c) => Some(Condition::parse(c, fleet).map_err(|m| err(Some(&i.id), m))?),
                None => None,
            };
            items.push(Item { id: i.id, title: i.title, role: i.role, required: i.required, condition });
        }
        phases.push(Phase { id: p.id, title: p.title, due, signoffs: p.signoffs, items });
    }
    Ok(Template { name: file.name, description: file.description, origin: origin.to_string(), phases })
}

/// Find and load the template a release uses: `template` from the plan (a
/// name or a path to a `.toml` file), else the template of its `kind`.
/// Names are looked up in `<config dir>/checklists/<name>.toml`, then among
/// the built-in ones. `Ok(None)`: the release has no checklist.
pub fn resolve(fleet: &Fleet, config_dir: Option<&Path>) -> Result<Option<Template>, TemplateError> {
    let Some(plan) = &fleet.release else {
        return Ok(None);
    };
    let wanted = match (&plan.template, plan.kind) {
        (Some(t), _) => t.clone(),
        (None, Some(kind)) => kind.as_str().to_string(),
        (None, None) => return Ok(None),
    };
    let read = |path: &Path| {
        let origin = path.display().to_string();
        std::fs::read_to_string(path)
            .map_err(|e| TemplateError { origin: origin.clone(), item: None, message: format!("cannot read: {e}") })
            .and_then(|text| parse(&text, &origin, fleet))
    };
    if wanted.ends_with(".toml") || wanted.contains('/') {
        return read(&PathBuf::from(&wanted)).map(Some);
    }
    if let Some(dir) = config_dir {
        let path = dir.join("checklists").join(format!("{wanted}.toml"));
        if path.exists() {
            return read(&path).map(Some);
        }
    }
    match BUILT_IN.iter().find(|(name, _)| *name == wanted) {
        Some((name, text)) => parse(text, &format!("built-in template {name}"), fleet).map(Some),
        None => Err(TemplateError {
            origin: "release plan".into(),
            item: None,
            message: format!(
                "no checklist template `{wanted}` (built in: {}; or add {}/checklists/{wanted}.toml)",
                BUILT_IN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                config_dir.map_or("<config dir>".into(), |d| d.display().to_string())
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Environment;

    fn fleet(envs: &[&str]) -> Fleet {
        Fleet {
            environments: envs.iter().map(|e| Environment { name: (*e).into(), stale_after: None }).collect(),
            ..Fleet::default()
        }
    }

    #[test]
    fn every_built_in_template_loads() {
        for envs in [&["dev", "qa", "uat", "prod"][..], &["staging", "prod"][..], &["prod"][..]] {
            for (name, text) in BUILT_IN {
                let t = parse(text, name, &fleet(envs)).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(t.name, *name);
                assert!(t.items().count() >= 5, "{name} is too thin");
            }
        }
    }

    #[test]
    fn a_hotfix_needs_fewer_signoffs_than_a_major() {
        let f = fleet(&["staging", "prod"]);
        let count = |name: &str| {
            let text = BUILT_IN.iter().find(|(n, _)| *n == name).unwrap().1;
            parse(text, name, &f).unwrap().signoffs().count()
        };
        assert!(count("hotfix") < count("patch"));
        assert!(count("patch") < count("minor"));
        assert!(count("minor") < count("major"));
    }

    #[test]
    fn due_times_are_signed() {
        assert_eq!(parse_due("-24h").unwrap(), SignedDuration::from_hours(-24));
        assert_eq!(parse_due("0s").unwrap(), SignedDuration::ZERO);
        assert_eq!(parse_due("0").unwrap(), SignedDuration::ZERO);
        assert_eq!(parse_due("+15m").unwrap(), SignedDuration::from_mins(15));
        assert!(parse_due("soon").unwrap_err().contains("invalid due time `soon`"));
    }

    fn one_item(item: &str) -> String {
        format!("name = \"t\"\n[[phases]]\nid = \"p\"\ntitle = \"P\"\ndue = \"-1h\"\n[[phases.items]]\n{item}")
    }

    #[test]
    fn bad_templates_name_the_file_and_the_item() {
        let f = fleet(&["staging", "prod"]);
        let err = parse(
            &one_item("id = \"a\"\ntitle = \"A\"\nrole = \"qa\"\ncondition = \"deployed(uat)\""),
            "/x/t.toml",
            &f,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/x/t.toml: item `a`: condition `deployed(uat)`: unknown environment `uat` (known: staging, prod, $prod, $staging)"
        );
        let err = parse(&one_item("id = \"a\"\ntitle = \"A\"\nrole = \"qa\"\ncondition = \"deploy(prod)\""), "t", &f)
            .unwrap_err();
        assert!(err.to_string().contains("item `a`: unknown condition `deploy(prod)`"), "{err}");
        let err = parse(&one_item("id = \"a\"\ntitle = \"A\"\nrole = \"qa\"\nowner = \"x\""), "t", &f).unwrap_err();
        assert!(err.to_string().contains("unknown field `owner`") && err.to_string().contains("line"), "{err}");
        let twice = one_item(
            "id = \"a\"\ntitle = \"A\"\nrole = \"qa\"\n[[phases.items]]\nid = \"a\"\ntitle = \"B\"\nrole = \"qa\"",
        );
        assert!(parse(&twice, "t", &f).unwrap_err().to_string().contains("item `a`: duplicate item id"));
        let unordered = "name = \"t\"\n[[phases]]\nid = \"late\"\ntitle = \"L\"\ndue = \"1h\"\n[[phases]]\nid = \"early\"\ntitle = \"E\"\ndue = \"-1h\"";
        assert!(parse(unordered, "t", &f).unwrap_err().to_string().contains("due before the phase above it"));
    }

    #[test]
    fn the_config_dir_overrides_a_built_in_and_unknown_names_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("checklists")).unwrap();
        std::fs::write(
            dir.path().join("checklists/minor.toml"),
            one_item("id = \"ours\"\ntitle = \"Our own step\"\nrole = \"qa\""),
        )
        .unwrap();
        let mut f = fleet(&["staging", "prod"]);
        f.release = Some(crate::model::ReleasePlan {
            name: "r".into(),
            kind: Some(crate::model::ReleaseKind::Minor),
            ..Default::default()
        });
        let t = resolve(&f, Some(dir.path())).unwrap().unwrap();
        assert!(t.item("ours").is_some() && t.origin.ends_with("checklists/minor.toml"));
        let t = resolve(&f, None).unwrap().unwrap();
        assert_eq!(t.origin, "built-in template minor");
        if let Some(plan) = f.release.as_mut() {
            plan.template = Some("nightly".into());
        }
        assert!(resolve(&f, Some(dir.path())).unwrap_err().to_string().contains("no checklist template `nightly`"));
        if let Some(plan) = f.release.as_mut() {
            plan.template = None;
            plan.kind = None;
        }
        assert_eq!(resolve(&f, None).unwrap(), None, "no kind, no template: no checklist");
    }
}
