//! The routing table: per category, an ordered list of candidate model ids. Defaults follow
//! each model's "best for"; operators override any category in `[routing]`.

use std::collections::HashMap;

use super::Category;
use crate::catalog::Catalog;

/// Category → candidates, first usable wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingTable {
    lists: HashMap<Category, Vec<String>>,
}

fn default_list(c: Category) -> &'static [&'static str] {
    match c {
        Category::Code => &["qwen/coder-32b"],
        Category::Reasoning => &["deepseek/r1-32b"],
        Category::LongDocument => &["claude-opus-4-8", "moonshot/kimi-k2"],
        Category::Vision => &["gpt-4o"],
        Category::Tools => &["claude-sonnet-4-6", "gpt-4o", "meta/llama-3.3-70b"],
        Category::Simple => &["claude-haiku-4-5", "meta/llama-3.1-8b"],
        Category::General => &["claude-sonnet-4-6", "meta/llama-3.3-70b"],
    }
}

impl RoutingTable {
    /// Defaults with `overrides` (category name → list) applied; every id must be in the
    /// catalog.
    pub fn new(
        overrides: &HashMap<String, Vec<String>>,
        catalog: &Catalog,
    ) -> Result<Self, String> {
        let mut lists = HashMap::new();
        for c in Category::ALL {
            lists.insert(
                c,
                default_list(c)
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect::<Vec<_>>(),
            );
        }
        for (name, list) in overrides {
            let Some(c) = Category::parse(name) else {
                let known: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                return Err(format!(
                    "routing.{name}: unknown category (known: {})",
                    known.join(", ")
                ));
            };
            if list.is_empty() {
                return Err(format!(
                    "routing.{name}: the candidate list must not be empty"
                ));
            }
            lists.insert(c, list.clone());
        }
        for (c, list) in &lists {
            for id in list {
                if catalog.get(id).is_none() {
                    return Err(format!(
                        "routing.{}: model {id:?} is not in the catalog",
                        c.as_str()
                    ));
                }
            }
        }
        Ok(RoutingTable { lists })
    }

    /// The candidates of a category.
    pub fn candidates(&self, c: Category) -> &[String] {
        self.lists.get(&c).map_or(&[], Vec::as_slice)
    }
}
