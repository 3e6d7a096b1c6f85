//! The tenant fixture: typed requests of one user in one tenant ([`Actor`]) that create what a
//! test needs and return its ids, and [`School`], a served tenant with an instructor.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{AttemptId, BankId, CohortId, QuestionId, SubmissionId};
use super::{CourseId, ItemId, ModuleId, Reply, TestApp, TestTenant, TestUser, paths};

/// The tenant every [`School`] serves.
pub const SCHOOL: &str = "acme";

/// Item bodies of each kind, with the defaults the tests rely on.
pub mod item {
    use serde_json::{Value, json};

    pub fn text(title: &str) -> Value {
        json!({ "kind": "text", "title": title, "body": "Read this." })
    }

    pub fn video(title: &str, seconds: u32) -> Value {
        json!({ "kind": "video", "title": title, "url": "https://videos.example/v.mp4",
                "duration_seconds": seconds })
    }

    pub fn optional_link(title: &str) -> Value {
        json!({ "kind": "external_link", "title": title, "url": "https://example.org",
                "required": false })
    }

    /// An item of a kind that needs nothing but its title (`quiz`, `assignment`, ...).
    pub fn titled(kind: &str, title: &str) -> Value {
        json!({ "kind": kind, "title": title })
    }

    pub fn quiz(title: &str) -> Value {
        titled("quiz", title)
    }

    pub fn assignment(title: &str) -> Value {
        titled("assignment", title)
    }
}

/// `base` with the keys of `overrides` (a JSON object) set over it.
pub fn merged(mut base: Value, overrides: Value) -> Value {
    if let (Some(base), Value::Object(overrides)) = (base.as_object_mut(), overrides) {
        base.extend(overrides);
    }
    base
}

/// A form's parts: (field, file name, content).
pub type Parts<'a> = &'a [(&'a str, Option<&'a str>, &'a [u8])];

/// A `multipart/form-data` body; returns (content type, body).
pub fn form(parts: Parts<'_>) -> (String, Vec<u8>) {
    let boundary = "lms-test-boundary-8c1f";
    let mut body = Vec::new();
    for (field, file_name, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(name) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{field}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A course's ids: its modules in order, each with its items in order.
pub struct CourseIds {
    pub course: CourseId,
    pub modules: Vec<ModuleIds>,
}

pub struct ModuleIds {
    pub module: ModuleId,
    pub items: Vec<ItemId>,
}

impl CourseIds {
    /// The `item`th item of the `module`th module.
    pub fn item(&self, module: usize, item: usize) -> &ItemId {
        &self.modules[module].items[item]
    }
}

/// A course with one item (a quiz, an assignment).
pub struct CourseItem {
    pub course: CourseId,
    pub item: ItemId,
}

/// A course with the items of its one module.
pub struct CourseItems {
    pub course: CourseId,
    pub items: Vec<ItemId>,
}

/// Requests of one signed-in user in one tenant.
#[derive(Clone, Copy)]
pub struct Actor<'a> {
    pub app: &'a TestApp,
    pub slug: &'a str,
    pub user: &'a TestUser,
}

impl TestApp {
    /// `user`'s requests in tenant `slug`.
    pub fn actor<'a>(&'a self, slug: &'a str, user: &'a TestUser) -> Actor<'a> {
        Actor {
            app: self,
            slug,
            user,
        }
    }
}

impl<'a> Actor<'a> {
    /// A request with the tenant and the user's bearer token.
    pub fn call(self, method: Method, path: &str) -> super::Call<'a> {
        self.app
            .call(method, path)
            .tenant(self.slug)
            .bearer(&self.user.access_token)
    }

    /// Sends a request, with a JSON body if there is one.
    pub async fn send(self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let call = self.call(method, path);
        match body {
            Some(body) => call.json(body).send().await,
            None => call.send().await,
        }
    }

    /// Sends a request that must succeed; returns its JSON.
    #[track_caller]
    pub fn ok(
        self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> impl Future<Output = Value> + 'a {
        let path = path.to_owned();
        let caller = std::panic::Location::caller();
        async move {
            let reply = self.send(method, &path, body).await;
            assert!(
                reply.status.is_success(),
                "{path}: {} {} (at {caller})",
                reply.status,
                reply.text
            );
            reply.json()
        }
    }

    /// POSTs `body` to `path`, which must answer 201 Created; returns the JSON.
    pub async fn created(self, path: &str, body: Value) -> Value {
        let reply = self.send(Method::POST, path, Some(body)).await;
        reply.assert_status(StatusCode::CREATED);
        reply.json()
    }

    /// Creates a draft course: `{ "slug": slug, "title": "Course <slug>" }` with `overrides`
    /// set over it.
    pub async fn create_course(self, slug: &str, overrides: Value) -> CourseId {
        let body = merged(
            json!({ "slug": slug, "title": format!("Course {slug}") }),
            overrides,
        );
        CourseId::of(&self.created("/api/v1/courses", body).await)
    }

    /// Moves a course to `status`.
    pub async fn set_status(self, course: &str, status: &str) -> Reply {
        self.send(
            Method::POST,
            &paths::course_status(course),
            Some(json!({ "status": status })),
        )
        .await
    }

    /// Publishes a course (200 OK).
    pub async fn publish(self, course: &str) {
        self.set_status(course, "published")
            .await
            .assert_status(StatusCode::OK);
    }

    pub async fn add_module(self, course: &str, title: &str) -> ModuleId {
        ModuleId::of(
            &self
                .created(&paths::modules(course), json!({ "title": title }))
                .await,
        )
    }

    /// Adds an item (a body of [`item`]) to a module.
    pub async fn add_item(self, course: &str, module: &str, body: Value) -> ItemId {
        ItemId::of(&self.created(&paths::items(course, module), body).await)
    }

    /// A draft course (see [`Actor::create_course`]) with modules titled by `module_title`
    /// holding these items.
    pub async fn create_outline(
        self,
        slug: &str,
        overrides: Value,
        modules: Vec<Vec<Value>>,
        module_title: impl Fn(usize) -> String,
    ) -> CourseIds {
        let course = self.create_course(slug, overrides).await;
        let mut ids = Vec::new();
        for (n, items) in modules.into_iter().enumerate() {
            let module = self.add_module(&course, &module_title(n)).await;
            let mut item_ids = Vec::new();
            for body in items {
                item_ids.push(self.add_item(&course, &module, body).await);
            }
            ids.push(ModuleIds {
                module,
                items: item_ids,
            });
        }
        CourseIds {
            course,
            modules: ids,
        }
    }

    /// Sets a course's prerequisites.
    pub async fn set_prerequisites(self, course: &str, ids: Vec<&CourseId>) -> Reply {
        self.send(
            Method::PUT,
            &paths::prerequisites(course),
            Some(json!({ "course_ids": ids })),
        )
        .await
    }

    /// Enrolls the user in a course themselves.
    pub async fn enroll(self, course: &str) -> Reply {
        self.send(Method::POST, &paths::enrollment(course), None)
            .await
    }

    /// Enrolls other users in a course (as staff).
    pub async fn enroll_users(self, course: &str, user_ids: Value) -> Reply {
        self.send(
            Method::POST,
            &paths::enrollments(course),
            Some(json!({ "user_ids": user_ids })),
        )
        .await
    }

    /// Creates a question bank from `body` (`title`, optionally `course_id`).
    pub async fn create_bank(self, body: Value) -> BankId {
        BankId::of(
            &self
                .ok(Method::POST, "/api/v1/question-banks", Some(body))
                .await,
        )
    }

    /// Adds a question (`prompt`, `points`, `spec`, ...) to a bank.
    pub async fn add_question(self, bank: &str, body: Value) -> QuestionId {
        QuestionId::of(
            &self
                .ok(Method::POST, &paths::bank_questions(bank), Some(body))
                .await,
        )
    }

    /// Adds the first category to a bank (201 Created); returns its id.
    pub async fn add_first_category(self, bank: &str, name: &str) -> String {
        self.created(&paths::bank_categories(bank), json!({ "name": name }))
            .await["categories"][0]["id"]
            .as_str()
            .expect("category")
            .to_owned()
    }

    /// Sets a quiz item's settings (its questions among them); returns the quiz's JSON.
    pub async fn set_quiz(self, course: &str, item: &str, settings: Value) -> Value {
        self.ok(Method::PUT, &paths::quiz(course, item), Some(settings))
            .await
    }

    pub async fn start_attempt(self, course: &str, item: &str) -> Reply {
        self.send(Method::POST, &paths::quiz_attempts(course, item), None)
            .await
    }

    pub async fn answer(self, attempt: &str, position: i64, answer: Value) -> Reply {
        self.send(
            Method::PUT,
            &paths::answer(attempt, position),
            Some(json!({ "answer": answer })),
        )
        .await
    }

    pub async fn submit_attempt(self, attempt: &str) -> Reply {
        self.send(Method::POST, &paths::attempt_submit(attempt), None)
            .await
    }

    /// Sets an assignment item's settings.
    pub async fn set_assignment(self, course: &str, item: &str, settings: Value) -> Reply {
        self.send(
            Method::PUT,
            &paths::assignment(course, item),
            Some(settings),
        )
        .await
    }

    /// Submits a form to an assignment.
    pub async fn submit_assignment(self, course: &str, item: &str, parts: Parts<'_>) -> Reply {
        let (content_type, body) = form(parts);
        self.call(Method::POST, &paths::submissions(course, item))
            .raw(Some(&content_type), body)
            .send()
            .await
    }

    /// Grades an assignment submission.
    pub async fn grade(self, submission: &str, body: Value) -> Reply {
        self.send(Method::PUT, &paths::grade(submission), Some(body))
            .await
    }

    /// Reports progress on an item (completion, session time, video position).
    pub async fn report_progress(self, course: &str, item: &str, body: Value) -> Reply {
        self.send(Method::PUT, &paths::item_progress(course, item), Some(body))
            .await
    }

    /// Adds users to a cohort (200 OK).
    pub async fn add_cohort_members(self, cohort: &str, user_ids: Value) {
        self.send(
            Method::POST,
            &paths::cohort_members(cohort),
            Some(json!({ "user_ids": user_ids })),
        )
        .await
        .assert_status(StatusCode::OK);
    }

    /// Creates a cohort from `body` (`name`, optionally `description`).
    pub async fn create_cohort(self, body: Value) -> CohortId {
        CohortId::of(&self.created("/api/v1/cohorts", body).await)
    }
}

/// The served tenant `acme` with its admin and learner and an instructor (the teacher).
pub struct School {
    pub app: TestApp,
    pub t: TestTenant,
    pub teacher: TestUser,
}

impl School {
    /// A fresh server with the school, whose teacher is `teacher@acme.example`.
    pub async fn new() -> Self {
        Self::on(TestApp::spawn().await).await
    }

    /// The school on this server.
    pub async fn on(app: TestApp) -> Self {
        Self::with_teacher(app, "teacher").await
    }

    /// The school on this server, whose teacher is `<name>@acme.example`.
    pub async fn with_teacher(app: TestApp, name: &str) -> Self {
        let t = app.seed_tenant(SCHOOL).await;
        let teacher = app
            .instructor(SCHOOL, &format!("{name}@{SCHOOL}.example"), &t.admin)
            .await;
        Self { app, t, teacher }
    }

    /// `who`'s requests in the school.
    pub fn by<'a>(&'a self, who: &'a TestUser) -> Actor<'a> {
        self.app.actor(SCHOOL, who)
    }

    /// The teacher's requests.
    pub fn teaching(&self) -> Actor<'_> {
        self.by(&self.teacher)
    }

    /// Another instructor, `<name>@acme.example`.
    pub async fn instructor(&self, name: &str) -> TestUser {
        self.app
            .instructor(SCHOOL, &format!("{name}@{SCHOOL}.example"), &self.t.admin)
            .await
    }

    /// A self-registered learner, `<name>@acme.example`.
    pub async fn learner(&self, name: &str) -> TestUser {
        self.app
            .register(SCHOOL, &format!("{name}@{SCHOOL}.example"))
            .await
    }

    /// A self-registered learner enrolled in `course` (201 Created).
    pub async fn enrolled(&self, name: &str, course: &str) -> TestUser {
        let learner = self.learner(name).await;
        self.enroll(course, &learner)
            .await
            .assert_status(StatusCode::CREATED);
        learner
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        who: &TestUser,
        body: Option<Value>,
    ) -> Reply {
        self.by(who).send(method, path, body).await
    }

    /// A request that must succeed; returns its JSON.
    #[track_caller]
    pub fn ok<'a>(
        &'a self,
        method: Method,
        path: &str,
        who: &'a TestUser,
        body: Option<Value>,
    ) -> impl Future<Output = Value> + 'a {
        self.by(who).ok(method, path, body)
    }

    /// A draft course of the teacher (see [`Actor::create_course`]).
    pub async fn course(&self, slug: &str, overrides: Value) -> CourseId {
        self.teaching().create_course(slug, overrides).await
    }

    /// A published course of the teacher.
    pub async fn published(&self, slug: &str, overrides: Value) -> CourseId {
        let id = self.course(slug, overrides).await;
        self.publish(&id).await;
        id
    }

    /// The teacher moves a course to `status` (200 OK).
    pub async fn status(&self, course: &str, status: &str) {
        self.teaching()
            .set_status(course, status)
            .await
            .assert_status(StatusCode::OK);
    }

    pub async fn publish(&self, course: &str) {
        self.teaching().publish(course).await;
    }

    /// A draft course of the teacher with modules `Module <n>` holding these items.
    pub async fn outline(
        &self,
        slug: &str,
        overrides: Value,
        modules: Vec<Vec<Value>>,
    ) -> CourseIds {
        self.teaching()
            .create_outline(slug, overrides, modules, |n| format!("Module {n}"))
            .await
    }

    /// A published course of the teacher with modules `Module <n>` holding these items.
    pub async fn published_outline(
        &self,
        slug: &str,
        overrides: Value,
        modules: Vec<Vec<Value>>,
    ) -> CourseIds {
        let ids = self.outline(slug, overrides, modules).await;
        self.publish(&ids.course).await;
        ids
    }

    /// A draft course of the teacher with one module, `Module`, holding these items.
    pub async fn one_module(&self, slug: &str, items: Vec<Value>) -> CourseIds {
        self.teaching()
            .create_outline(slug, json!({}), vec![items], |_| "Module".to_owned())
            .await
    }

    /// `who` enrolls in a course themselves.
    pub async fn enroll(&self, course: &str, who: &TestUser) -> Reply {
        self.by(who).enroll(course).await
    }

    /// A draft course of the teacher with one module holding one quiz item.
    pub async fn quiz_course(&self, slug: &str) -> CourseItem {
        let ids = self
            .one_module(slug, vec![item::quiz("Checkpoint quiz")])
            .await;
        CourseItem {
            item: ids.item(0, 0).clone(),
            course: ids.course,
        }
    }

    /// A bank of the teacher for a course, `Chapter 1`.
    pub async fn bank(&self, course: &str) -> BankId {
        self.teaching()
            .create_bank(json!({ "course_id": course, "title": "Chapter 1" }))
            .await
    }

    /// A question, `Answer this`, of the teacher's.
    pub async fn question(&self, bank: &str, points: f64, spec: Value) -> QuestionId {
        self.teaching()
            .add_question(
                bank,
                json!({ "prompt": "Answer this", "points": points, "spec": spec }),
            )
            .await
    }

    /// The teacher sets a quiz's settings; returns the quiz's JSON.
    pub async fn quiz(&self, course: &str, item: &str, settings: Value) -> Value {
        self.teaching().set_quiz(course, item, settings).await
    }

    /// A published course whose quiz asks one true/false question (true is right), with
    /// `settings` besides the question.
    pub async fn one_question_quiz(&self, slug: &str, mut settings: Value) -> CourseItem {
        let quiz = self.quiz_course(slug).await;
        let bank = self.bank(&quiz.course).await;
        let truth = self
            .question(&bank, 1.0, json!({ "type": "true_false", "correct": true }))
            .await;
        settings["questions"] = json!([{ "question_id": truth }]);
        self.quiz(&quiz.course, &quiz.item, settings).await;
        self.publish(&quiz.course).await;
        quiz
    }

    /// A published course of the teacher with one module holding items of these kinds and
    /// titles.
    pub async fn published_items(&self, slug: &str, items: &[(&str, &str)]) -> CourseItems {
        let bodies = items
            .iter()
            .map(|(kind, title)| item::titled(kind, title))
            .collect();
        let mut ids = self.one_module(slug, bodies).await;
        self.publish(&ids.course).await;
        CourseItems {
            items: ids.modules.remove(0).items,
            course: ids.course,
        }
    }

    /// The teacher sets an assignment's settings.
    pub async fn assignment(&self, course: &str, item: &str, settings: Value) -> Reply {
        self.teaching().set_assignment(course, item, settings).await
    }

    /// `who` submits a form to an assignment.
    pub async fn submit_assignment(
        &self,
        course: &str,
        item: &str,
        who: &TestUser,
        parts: Parts<'_>,
    ) -> Reply {
        self.by(who).submit_assignment(course, item, parts).await
    }

    /// The teacher grades an assignment submission.
    pub async fn grade(&self, submission: &str, body: Value) -> Reply {
        self.teaching().grade(submission, body).await
    }

    /// `who` starts an attempt at a quiz.
    pub async fn start_attempt(&self, course: &str, item: &str, who: &TestUser) -> Reply {
        self.by(who).start_attempt(course, item).await
    }

    /// `who` saves the answer at `position` of an attempt.
    pub async fn answer(
        &self,
        attempt: &str,
        position: i64,
        who: &TestUser,
        answer: Value,
    ) -> Reply {
        self.by(who).answer(attempt, position, answer).await
    }

    /// `who` submits an attempt.
    pub async fn submit_attempt(&self, attempt: &str, who: &TestUser) -> Reply {
        self.by(who).submit_attempt(attempt).await
    }

    /// `who` reports progress on an item.
    pub async fn report(&self, course: &str, item: &str, who: &TestUser, body: Value) -> Reply {
        self.by(who).report_progress(course, item, body).await
    }
}

/// The ids a question-bank or attempt path can carry.
#[derive(Clone)]
pub struct QuizIds {
    pub bank: BankId,
    pub category: String,
    pub question: QuestionId,
    pub attempt: AttemptId,
}

/// A shared bank of the tenant's admin with a category and a true/false question, a published
/// course whose quiz asks it, and an attempt of the tenant's learner (answered, not submitted).
pub async fn seed_quiz(app: &TestApp, t: &TestTenant) -> QuizIds {
    let admin = app.actor(&t.slug, &t.admin);
    let learner = app.actor(&t.slug, &t.learner);
    let bank = BankId::of(
        &admin
            .created(
                "/api/v1/question-banks",
                json!({ "title": format!("Bank of {}", t.slug) }),
            )
            .await,
    );
    let category = admin.add_first_category(&bank, "Category").await;
    let question = QuestionId::of(
        &admin
            .created(
                &paths::bank_questions(&bank),
                json!({ "category_id": category, "prompt": format!("Question of {}", t.slug),
                        "points": 1, "spec": { "type": "true_false", "correct": true } }),
            )
            .await,
    );
    let course = admin
        .create_course(
            &format!("{}-quizzes", t.slug),
            json!({ "title": "Quizzes" }),
        )
        .await;
    let module = admin.add_module(&course, "Module").await;
    let item = admin.add_item(&course, &module, item::quiz("Quiz")).await;
    admin
        .send(
            Method::PUT,
            &paths::quiz(&course, &item),
            Some(json!({ "questions": [{ "question_id": question }] })),
        )
        .await
        .assert_status(StatusCode::OK);
    admin.publish(&course).await;
    learner
        .enroll(&course)
        .await
        .assert_status(StatusCode::CREATED);
    let attempt = learner.start_attempt(&course, &item).await;
    attempt.assert_status(StatusCode::CREATED);
    let attempt = AttemptId::of(&attempt.json());
    learner
        .answer(&attempt, 0, json!({ "value": true }))
        .await
        .assert_status(StatusCode::OK);
    QuizIds {
        bank,
        category,
        question,
        attempt,
    }
}

/// The ids a cross-tenant check names: a published course of the tenant's admin with an
/// assignment item (weighted 2 in its gradebook), and a submission of the tenant's learner with
/// one file.
pub struct AssignmentIds {
    pub item: ItemId,
    pub submission: SubmissionId,
    pub file: String,
}

pub async fn seed_assignment(app: &TestApp, t: &TestTenant) -> AssignmentIds {
    let admin = app.actor(&t.slug, &t.admin);
    let course = admin
        .create_course(
            &format!("{}-assignments", t.slug),
            json!({ "title": "Assignments" }),
        )
        .await;
    let module = admin.add_module(&course, "Module").await;
    let item = admin
        .add_item(&course, &module, item::assignment("Assignment"))
        .await;
    admin
        .set_assignment(
            &course,
            &item,
            json!({ "points": 10, "accepts_files": true }),
        )
        .await
        .assert_status(StatusCode::OK);
    admin
        .send(
            Method::PUT,
            &paths::gradebook_settings(&course),
            Some(json!({ "items": [{ "item_id": item, "weight": 2 }] })),
        )
        .await
        .assert_status(StatusCode::OK);
    admin.publish(&course).await;
    let learner = app.actor(&t.slug, &t.learner);
    learner
        .enroll(&course)
        .await
        .assert_status(StatusCode::CREATED);
    let submitted = learner
        .submit_assignment(&course, &item, &[("files", Some("work.txt"), b"my work")])
        .await;
    submitted.assert_status(StatusCode::CREATED);
    let submitted = submitted.json();
    AssignmentIds {
        item,
        submission: SubmissionId::of(&submitted),
        file: submitted["files"][0]["id"]
            .as_str()
            .expect("file")
            .to_owned(),
    }
}

impl TestApp {
    /// A fresh server with one seeded tenant (see [`TestApp::seed_tenant`]).
    pub async fn with_tenant(slug: &str) -> (Self, TestTenant) {
        let app = Self::spawn().await;
        let t = app.seed_tenant(slug).await;
        (app, t)
    }
}
