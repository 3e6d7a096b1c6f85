//! The course grade: weighted means of the assessments' percentages, by assessment or by
//! category, over the graded ones (`current`) and counting the ungraded as 0 (`final`).

use super::model::{CategoryWeight, Column, CourseGrade, Weighting};

/// A weighted mean in hundredths; `None` when the weights add up to nothing.
fn mean(parts: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let (sum, weights) = parts.fold((0.0, 0.0), |(s, w), (value, weight)| {
        (s + value * weight, w + weight)
    });
    (weights > 0.0).then(|| (sum / weights * 100.0).round() / 100.0)
}

/// `columns[i]`'s percentage is `scores[i]` (absent: not graded).
pub fn course_grade(
    weighting: Weighting,
    categories: &[CategoryWeight],
    columns: &[Column],
    scores: &[Option<f64>],
) -> CourseGrade {
    let cells = || columns.iter().zip(scores.iter().copied());
    match weighting {
        Weighting::Assessment => CourseGrade {
            current_percent: mean(cells().filter_map(|(c, s)| Some((s?, c.weight)))),
            final_percent: mean(cells().map(|(c, s)| (s.unwrap_or(0.0), c.weight))).unwrap_or(0.0),
        },
        Weighting::Category => {
            // (current, final) of each category that has assessments, with its weight.
            let per_category: Vec<(Option<f64>, Option<f64>, f64)> = categories
                .iter()
                .map(|cat| {
                    let inside: Vec<(f64, Option<f64>)> = cells()
                        .filter(|(c, _)| c.category.as_deref() == Some(cat.name.as_str()))
                        .map(|(c, s)| (c.weight, s))
                        .collect();
                    let current = mean(inside.iter().filter_map(|&(w, s)| Some((s?, w))));
                    let finals = mean(inside.iter().map(|&(w, s)| (s.unwrap_or(0.0), w)));
                    (current, finals, cat.weight)
                })
                .collect();
            CourseGrade {
                current_percent: mean(
                    per_category
                        .iter()
                        .filter_map(|&(current, _, w)| Some((current?, w))),
                ),
                final_percent: mean(
                    per_category
                        .iter()
                        .filter_map(|&(_, finals, w)| Some((finals?, w))),
                )
                .unwrap_or(0.0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::courses::ItemId;
    use crate::gradebook::model::AssessmentKind;

    fn column(weight: f64, category: Option<&str>) -> Column {
        Column {
            item_id: ItemId::default(),
            title: "x".into(),
            kind: AssessmentKind::Quiz,
            weight,
            category: category.map(str::to_owned),
            passing_percent: None,
        }
    }

    #[test]
    fn by_assessment_the_weights_make_the_mean() {
        let columns = [column(1.0, None), column(3.0, None), column(2.0, None)];
        let grade = course_grade(
            Weighting::Assessment,
            &[],
            &columns,
            &[Some(100.0), Some(50.0), None],
        );
        // (100*1 + 50*3) / 4 over the graded; (100 + 150 + 0) / 6 with the ungraded as 0.
        assert_eq!(grade.current_percent, Some(62.5));
        assert_eq!(grade.final_percent, 41.67);

        let none = course_grade(Weighting::Assessment, &[], &columns, &[None, None, None]);
        assert_eq!((none.current_percent, none.final_percent), (None, 0.0));

        // A weight of 0 leaves an assessment out.
        let columns = [column(0.0, None), column(1.0, None)];
        let grade = course_grade(
            Weighting::Assessment,
            &[],
            &columns,
            &[Some(0.0), Some(80.0)],
        );
        assert_eq!(grade.current_percent, Some(80.0));
    }

    #[test]
    fn by_category_each_category_is_weighted_and_the_uncategorised_do_not_count() {
        let categories = [
            CategoryWeight {
                name: "Quizzes".into(),
                weight: 40.0,
            },
            CategoryWeight {
                name: "Project".into(),
                weight: 60.0,
            },
            CategoryWeight {
                name: "Empty".into(),
                weight: 100.0,
            },
        ];
        let columns = [
            column(1.0, Some("Quizzes")),
            column(1.0, Some("Quizzes")),
            column(1.0, Some("Project")),
            column(5.0, None),
        ];
        let scores = [Some(100.0), Some(50.0), Some(90.0), Some(0.0)];
        let grade = course_grade(Weighting::Category, &categories, &columns, &scores);
        // Quizzes 75, Project 90: (75*40 + 90*60) / 100; the empty category has no items.
        assert_eq!(grade.current_percent, Some(84.0));
        assert_eq!(grade.final_percent, 84.0);

        let partial = [Some(100.0), None, None, None];
        let grade = course_grade(Weighting::Category, &categories, &columns, &partial);
        assert_eq!(grade.current_percent, Some(100.0));
        // Quizzes 50, Project 0.
        assert_eq!(grade.final_percent, 20.0);
    }
}
