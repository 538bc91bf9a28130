//! Release checklists: templates, live conditions, and their evaluation
//! against the matrix, the findings and the release journal.

pub(crate) mod condition;
pub(crate) mod eval;
pub(crate) mod template;

pub use condition::Condition;
pub use eval::{ChecklistState, Facts, Manual, Status, Truth, blockers, evaluate};
pub use template::{Template, TemplateError, resolve};
