//! NUL characters are never stored (see [`switchboard_store::nul`]).

pub(crate) use switchboard_store::nul::{json, opt_json, opt_text, text};
