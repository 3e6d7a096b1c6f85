//! Rubrics: criteria, each with levels worth points. A rubric's points are the sum of each
//! criterion's best level; grading picks exactly one level per criterion.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::FieldError;
use crate::question_banks::in_hundredths;
use crate::validation::{line, prose};

pub const MAX_CRITERIA: usize = 30;
pub const MAX_LEVELS: usize = 10;
const MAX_COMMENT_CHARS: usize = 2_000;

/// A rubric as saved: the server gives every criterion and level its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rubric {
    pub criteria: Vec<Criterion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Criterion {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub title: String,
    pub description: String,
    /// Best first is the convention, not a rule.
    pub levels: Vec<Level>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Level {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub points: f64,
}

/// A rubric as written by an author.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RubricInput {
    pub criteria: Vec<CriterionInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriterionInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub levels: Vec<LevelInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub points: f64,
}

/// The level a grader chose for one criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriterionGrade {
    #[schema(value_type = String, format = Uuid)]
    pub criterion_id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub level_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Rubric {
    /// Checks an author's rubric and gives its criteria and levels fresh ids.
    pub fn parse(input: &RubricInput) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if input.criteria.is_empty() || input.criteria.len() > MAX_CRITERIA {
            errors.push(FieldError::new(
                "rubric.criteria",
                "out_of_range",
                format!("1 to {MAX_CRITERIA} criteria"),
            ));
        }
        let mut criteria = Vec::with_capacity(input.criteria.len());
        for (c, criterion) in input.criteria.iter().enumerate() {
            let at = format!("rubric.criteria[{c}]");
            let title = line(&format!("{at}.title"), &criterion.title, 200);
            let description = prose(&format!("{at}.description"), &criterion.description, 2_000);
            if criterion.levels.is_empty() || criterion.levels.len() > MAX_LEVELS {
                errors.push(FieldError::new(
                    format!("{at}.levels"),
                    "out_of_range",
                    format!("1 to {MAX_LEVELS} levels"),
                ));
            }
            let mut levels = Vec::with_capacity(criterion.levels.len());
            for (l, level) in criterion.levels.iter().enumerate() {
                let level_at = format!("{at}.levels[{l}]");
                let title = line(&format!("{level_at}.title"), &level.title, 100);
                let description = prose(
                    &format!("{level_at}.description"),
                    &level.description,
                    2_000,
                );
                if !in_hundredths(level.points) || !(0.0..=1_000.0).contains(&level.points) {
                    errors.push(FieldError::new(
                        format!("{level_at}.points"),
                        "out_of_range",
                        "0 to 1000, in steps of 0.01",
                    ));
                }
                match (title, description) {
                    (Ok(title), Ok(description)) => levels.push(Level {
                        id: Uuid::now_v7(),
                        title,
                        description,
                        points: level.points,
                    }),
                    (title, description) => {
                        errors.extend(title.err().into_iter().chain(description.err()))
                    }
                }
            }
            match (title, description) {
                (Ok(title), Ok(description)) => criteria.push(Criterion {
                    id: Uuid::now_v7(),
                    title,
                    description,
                    levels,
                }),
                (title, description) => {
                    errors.extend(title.err().into_iter().chain(description.err()))
                }
            }
        }
        let rubric = Self { criteria };
        if errors.is_empty() && rubric.points() <= 0.0 {
            errors.push(FieldError::new(
                "rubric",
                "no_points",
                "at least one level must be worth points",
            ));
        }
        if errors.is_empty() {
            Ok(rubric)
        } else {
            Err(errors)
        }
    }

    /// The most a submission can score: each criterion's best level.
    pub fn points(&self) -> f64 {
        let cents: i64 = self
            .criteria
            .iter()
            .map(|c| c.levels.iter().map(|l| cents(l.points)).max().unwrap_or(0))
            .sum();
        cents as f64 / 100.0
    }

    /// The points of a grader's choices: exactly one level of this rubric for each criterion.
    pub fn score(&self, grades: &[CriterionGrade]) -> Result<f64, Vec<FieldError>> {
        let mut errors = Vec::new();
        let criteria: HashMap<Uuid, &Criterion> = self.criteria.iter().map(|c| (c.id, c)).collect();
        let mut seen = HashSet::new();
        let mut total = 0i64;
        for (at, grade) in grades.iter().enumerate() {
            let field = format!("rubric[{at}]");
            let Some(criterion) = criteria.get(&grade.criterion_id) else {
                errors.push(FieldError::new(
                    format!("{field}.criterion_id"),
                    "unknown_criterion",
                    "the rubric has no criterion with this id",
                ));
                continue;
            };
            if !seen.insert(grade.criterion_id) {
                errors.push(FieldError::new(
                    format!("{field}.criterion_id"),
                    "duplicate",
                    "one level per criterion",
                ));
                continue;
            }
            match criterion.levels.iter().find(|l| l.id == grade.level_id) {
                Some(level) => total += cents(level.points),
                None => errors.push(FieldError::new(
                    format!("{field}.level_id"),
                    "unknown_level",
                    "the criterion has no level with this id",
                )),
            }
            if grade
                .comment
                .as_ref()
                .is_some_and(|c| prose(&field, c, MAX_COMMENT_CHARS).is_err())
            {
                errors.push(FieldError::new(
                    format!("{field}.comment"),
                    "invalid_text",
                    format!("at most {MAX_COMMENT_CHARS} characters, no control characters"),
                ));
            }
        }
        for (c, criterion) in self.criteria.iter().enumerate() {
            if !seen.contains(&criterion.id) {
                errors.push(FieldError::new(
                    "rubric",
                    "criterion_not_graded",
                    format!("choose a level for criterion {c} (`{}`)", criterion.title),
                ));
            }
        }
        if errors.is_empty() {
            Ok(total as f64 / 100.0)
        } else {
            Err(errors)
        }
    }
}

/// Points (checked to be in hundredths) as whole hundredths, so sums are exact.
fn cents(points: f64) -> i64 {
    (points * 100.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RubricInput {
        serde_json::from_value(serde_json::json!({
            "criteria": [
                { "title": "Argument", "levels": [
                    { "title": "Convincing", "points": 6 },
                    { "title": "Thin", "points": 2.5 },
                    { "title": "Missing", "points": 0 } ] },
                { "title": "Sources", "description": "Cited properly", "levels": [
                    { "title": "All cited", "points": 4 },
                    { "title": "Some", "points": 1.25 } ] }
            ]
        }))
        .expect("rubric json")
    }

    #[test]
    fn points_are_the_best_level_of_each_criterion() {
        let rubric = Rubric::parse(&input()).expect("valid");
        assert_eq!(rubric.points(), 10.0);
        assert_ne!(rubric.criteria[0].id, rubric.criteria[1].id);
    }

    #[test]
    fn a_score_needs_one_known_level_per_criterion() {
        let rubric = Rubric::parse(&input()).expect("valid");
        let pick = |c: usize, l: usize| CriterionGrade {
            criterion_id: rubric.criteria[c].id,
            level_id: rubric.criteria[c].levels[l].id,
            comment: None,
        };
        assert_eq!(rubric.score(&[pick(0, 1), pick(1, 1)]), Ok(3.75));

        let missing = rubric
            .score(&[pick(0, 0)])
            .expect_err("one criterion left out");
        assert_eq!(missing[0].code, "criterion_not_graded");

        let twice = rubric
            .score(&[pick(0, 0), pick(0, 1), pick(1, 0)])
            .expect_err("two levels for one criterion");
        assert_eq!(twice[0].code, "duplicate");

        // A level of another criterion is not a level of this one.
        let foreign = CriterionGrade {
            criterion_id: rubric.criteria[0].id,
            level_id: rubric.criteria[1].levels[0].id,
            comment: None,
        };
        let crossed = rubric
            .score(&[foreign, pick(1, 0)])
            .expect_err("crossed ids");
        assert_eq!(crossed[0].code, "unknown_level");

        let unknown = CriterionGrade {
            criterion_id: Uuid::now_v7(),
            level_id: rubric.criteria[0].levels[0].id,
            comment: None,
        };
        let errors = rubric.score(&[unknown]).expect_err("unknown criterion");
        assert_eq!(errors[0].code, "unknown_criterion");
    }

    #[test]
    fn bad_rubrics_name_every_bad_field() {
        let bad: RubricInput = serde_json::from_value(serde_json::json!({
            "criteria": [
                { "title": "", "levels": [] },
                { "title": "Ok", "levels": [ { "title": "x", "points": 0.001 } ] }
            ]
        }))
        .expect("json");
        let errors = Rubric::parse(&bad).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"rubric.criteria[0].title"), "{fields:?}");
        assert!(fields.contains(&"rubric.criteria[0].levels"), "{fields:?}");
        assert!(
            fields.contains(&"rubric.criteria[1].levels[0].points"),
            "{fields:?}"
        );

        let zero: RubricInput = serde_json::from_value(serde_json::json!({
            "criteria": [ { "title": "Ok", "levels": [ { "title": "x", "points": 0 } ] } ]
        }))
        .expect("json");
        assert_eq!(
            Rubric::parse(&zero).expect_err("no points")[0].code,
            "no_points"
        );

        let empty = RubricInput { criteria: vec![] };
        assert!(Rubric::parse(&empty).is_err());
    }
}
