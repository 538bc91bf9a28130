//! Release checklists: templates, live conditions, and their evaluation
//! against the matrix, the findings and the release journal.

pub mod condition;
pub mod eval;
pub mod template;

pub use condition::Condition;
pub use eval::{ChecklistState, Facts, Manual, Status, Truth, blockers, evaluate};
pub use template::{Template, TemplateError, resolve};
