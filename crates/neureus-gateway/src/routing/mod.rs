//! `model: "auto"`: classify the request, then pick the first candidate of the category
//! that this tenant can use, with session pinning.

pub mod classify;
pub mod lexicon;
pub mod select;
pub mod table;

pub use classify::{classify, Category, Decision};
pub use select::{route, RoutingInfo, SessionPins};
pub use table::RoutingTable;
