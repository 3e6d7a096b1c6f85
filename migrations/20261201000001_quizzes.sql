-- Quizzes: question banks with categories, versioned questions, quiz settings and their question
-- slots, attempts with the questions frozen at their start, and the answers with their grades.
-- Every table is tenant-owned: tenant_id leads every key, foreign key and index, and row-level
-- security confines the app role to app.tenant_id.
--
-- Rules the quizzes service keeps (and the constraints below back):
-- * a question version is immutable once an attempt was given it: editing such a question adds a
--   version, and attempts keep the one they were given;
-- * an attempt's questions, their order and their option order are frozen at its start;
-- * one attempt per learner and quiz is open at a time, and attempt numbers are unique, so racing
--   starts cannot exceed the quiz's maximum (starts also lock the learner's enrollment row);
-- * answers are accepted until the attempt's deadline, never after.

-- A quiz row names its course with the item; the item must belong to that course.
alter table course_items add constraint course_items_course_key unique (tenant_id, course_id, id);

create table question_banks (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    -- The course whose staff own the bank; null for a bank shared by the tenant's courses.
    course_id uuid,
    title text not null check (length(title) between 1 and 200),
    description text not null default '' check (length(description) <= 5000),
    created_by uuid not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, course_id) references courses (tenant_id, id) on delete cascade,
    foreign key (tenant_id, created_by) references users (tenant_id, id)
);
create index question_banks_course on question_banks (tenant_id, course_id, id);
create trigger question_banks_updated_at before update on question_banks
    for each row execute function set_updated_at();

create table question_categories (
    tenant_id uuid not null,
    id uuid not null,
    bank_id uuid not null,
    name text not null check (length(name) between 1 and 100),
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint question_categories_bank_key unique (tenant_id, bank_id, id),
    foreign key (tenant_id, bank_id) references question_banks (tenant_id, id) on delete cascade
);
create unique index question_categories_name_key
    on question_categories (tenant_id, bank_id, lower(name));

create table questions (
    tenant_id uuid not null,
    id uuid not null,
    bank_id uuid not null,
    category_id uuid,
    current_version integer not null default 1 check (current_version >= 1),
    -- Archived questions are kept for the attempts that used them but are never drawn again.
    archived_at timestamptz,
    created_by uuid not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint questions_bank_key unique (tenant_id, bank_id, id),
    foreign key (tenant_id, bank_id) references question_banks (tenant_id, id) on delete cascade,
    foreign key (tenant_id, bank_id, category_id)
        references question_categories (tenant_id, bank_id, id) on delete set null (category_id),
    foreign key (tenant_id, created_by) references users (tenant_id, id)
);
create index questions_bank on questions (tenant_id, bank_id, category_id, id)
    where archived_at is null;
create trigger questions_updated_at before update on questions
    for each row execute function set_updated_at();

create table question_versions (
    tenant_id uuid not null,
    question_id uuid not null,
    version integer not null check (version >= 1),
    kind text not null check (kind in ('single_choice', 'multiple_response', 'true_false',
        'short_answer', 'numeric', 'ordering', 'matching', 'fill_in_blanks', 'essay', 'plugin')),
    prompt text not null check (length(prompt) between 1 and 20000),
    points numeric(8, 2) not null check (points > 0 and points <= 1000),
    -- The kind's definition with its answer key (see question_banks::kinds).
    spec jsonb not null,
    created_by uuid not null,
    created_at timestamptz not null default now(),
    primary key (tenant_id, question_id, version),
    foreign key (tenant_id, question_id) references questions (tenant_id, id) on delete cascade,
    foreign key (tenant_id, created_by) references users (tenant_id, id)
);

create table quizzes (
    tenant_id uuid not null,
    -- The course item of kind `quiz` these settings belong to.
    item_id uuid not null,
    course_id uuid not null,
    time_limit_seconds integer check (time_limit_seconds between 60 and 604800),
    -- Null: unlimited attempts.
    max_attempts integer check (max_attempts between 1 and 100),
    passing_percent numeric(5, 2) not null default 50 check (passing_percent between 0 and 100),
    attempt_grading text not null default 'highest'
        check (attempt_grading in ('highest', 'latest', 'average')),
    shuffle_questions boolean not null default false,
    shuffle_options boolean not null default false,
    available_from timestamptz,
    available_until timestamptz,
    show_correct_answers text not null default 'after_submission'
        check (show_correct_answers in ('never', 'after_submission', 'after_window', 'after_passing')),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, item_id),
    check (available_from is null or available_until is null or available_from < available_until),
    check (show_correct_answers <> 'after_window' or available_until is not null),
    foreign key (tenant_id, course_id, item_id)
        references course_items (tenant_id, course_id, id) on delete cascade
);
create trigger quizzes_updated_at before update on quizzes
    for each row execute function set_updated_at();

-- What a quiz asks, in order: a fixed question (its current version when an attempt starts) or
-- a number of questions drawn at random from a bank or one of its categories.
create table quiz_slots (
    tenant_id uuid not null,
    item_id uuid not null,
    position integer not null check (position >= 0),
    question_id uuid,
    bank_id uuid,
    category_id uuid,
    draw_count integer check (draw_count between 1 and 100),
    primary key (tenant_id, item_id, position),
    check (
        (question_id is not null and bank_id is null and category_id is null and draw_count is null)
        or (question_id is null and bank_id is not null and draw_count is not null)
    ),
    foreign key (tenant_id, item_id) references quizzes (tenant_id, item_id) on delete cascade,
    -- A question, bank or category a quiz asks from cannot be deleted (questions are archived).
    constraint quiz_slots_question_fkey foreign key (tenant_id, question_id)
        references questions (tenant_id, id),
    constraint quiz_slots_bank_fkey foreign key (tenant_id, bank_id)
        references question_banks (tenant_id, id),
    constraint quiz_slots_category_fkey foreign key (tenant_id, bank_id, category_id)
        references question_categories (tenant_id, bank_id, id)
);
create index quiz_slots_question on quiz_slots (tenant_id, question_id);
create index quiz_slots_bank on quiz_slots (tenant_id, bank_id, category_id);

create table quiz_attempts (
    tenant_id uuid not null,
    id uuid not null,
    item_id uuid not null,
    course_id uuid not null,
    enrollment_id uuid not null,
    user_id uuid not null,
    number integer not null check (number >= 1),
    -- in_progress: answering; submitted: awaiting a grader or a person; graded: final.
    status text not null default 'in_progress'
        check (status in ('in_progress', 'submitted', 'graded')),
    started_at timestamptz not null default now(),
    -- The time limit or the window's end, whichever comes first; null when neither exists.
    deadline_at timestamptz,
    submitted_at timestamptz,
    auto_submitted boolean not null default false,
    max_score numeric(10, 2) not null check (max_score >= 0),
    score numeric(10, 2),
    percent numeric(5, 2),
    passed boolean,
    graded_at timestamptz,
    primary key (tenant_id, id),
    constraint quiz_attempts_number_key unique (tenant_id, item_id, user_id, number),
    constraint quiz_attempts_status_dates check (
        (status = 'in_progress') = (submitted_at is null)
        and (status = 'graded') = (graded_at is not null and score is not null)
    ),
    foreign key (tenant_id, item_id) references quizzes (tenant_id, item_id) on delete cascade,
    foreign key (tenant_id, enrollment_id) references enrollments (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id)
);
create unique index quiz_attempts_one_open on quiz_attempts (tenant_id, item_id, user_id)
    where status = 'in_progress';
create index quiz_attempts_user on quiz_attempts (tenant_id, user_id, item_id, number);
-- The sweep that closes attempts past their deadline looks across tenants (operator role), like
-- the email dispatcher: its index leads with the deadline on purpose.
create index quiz_attempts_expiring on quiz_attempts (deadline_at)
    where status = 'in_progress' and deadline_at is not null;

create table attempt_questions (
    tenant_id uuid not null,
    attempt_id uuid not null,
    position integer not null check (position >= 0),
    question_id uuid not null,
    version integer not null,
    points numeric(8, 2) not null check (points > 0),
    -- What the learner was shown (never the answer key), frozen at the attempt's start.
    presented jsonb not null,
    answer jsonb,
    answered_at timestamptz,
    -- pending: not graded yet (before submission, or waiting for a plugin); auto: graded by
    -- rule or plugin; review: waiting for a person (essays, failed plugins); manual: graded by a
    -- person.
    grading text not null default 'pending'
        check (grading in ('pending', 'auto', 'review', 'manual')),
    awarded numeric(8, 2) check (awarded >= 0 and awarded <= points),
    -- Per-criterion feedback from a grader plugin and the grader's comment.
    feedback jsonb,
    review_reason text,
    graded_by uuid,
    graded_at timestamptz,
    primary key (tenant_id, attempt_id, position),
    check ((grading in ('auto', 'manual')) = (awarded is not null)),
    foreign key (tenant_id, attempt_id) references quiz_attempts (tenant_id, id) on delete cascade,
    -- A version an attempt was given is never deleted.
    constraint attempt_questions_version_fkey foreign key (tenant_id, question_id, version)
        references question_versions (tenant_id, question_id, version),
    foreign key (tenant_id, graded_by) references users (tenant_id, id)
);
create index attempt_questions_version on attempt_questions (tenant_id, question_id, version);
-- The instructors' grading queue.
create index attempt_questions_review on attempt_questions (tenant_id, attempt_id)
    where grading = 'review';

alter table question_banks enable row level security;
alter table question_banks force row level security;
alter table question_categories enable row level security;
alter table question_categories force row level security;
alter table questions enable row level security;
alter table questions force row level security;
alter table question_versions enable row level security;
alter table question_versions force row level security;
alter table quizzes enable row level security;
alter table quizzes force row level security;
alter table quiz_slots enable row level security;
alter table quiz_slots force row level security;
alter table quiz_attempts enable row level security;
alter table quiz_attempts force row level security;
alter table attempt_questions enable row level security;
alter table attempt_questions force row level security;

create policy tenant_isolation on question_banks to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on question_categories to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on questions to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on question_versions to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on quizzes to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on quiz_slots to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on quiz_attempts to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on attempt_questions to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update, delete on question_banks, question_categories, quiz_slots to lms_app;
grant select, insert, update on questions, quizzes, quiz_attempts, attempt_questions to lms_app;
-- Versions are written once and never changed or removed by the server.
grant select, insert on question_versions to lms_app;
-- The deadline sweep finds expired and stuck attempts across tenants (and then closes each in its
-- tenant's own transaction as lms_app).
grant select on quiz_attempts, attempt_questions to lms_operator;
