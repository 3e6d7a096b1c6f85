-- Assignments and the gradebook: an assignment's settings on a course item of kind
-- `assignment`, learners' submissions (text and files kept in the file storage) with their
-- grades, and each course's gradebook weights. Every table is tenant-owned: tenant_id leads
-- every key, foreign key and index, and row-level security confines the app role to
-- app.tenant_id.
--
-- Rules the assignments service keeps (and the constraints below back):
-- * a learner may submit again until the due date; every submission is kept, numbered, and an
--   earlier one still waiting for a grade is superseded by the next;
-- * a rubric cannot change once a submission was graded with it;
-- * a grade reaches the learner only once released.

create table assignments (
    tenant_id uuid not null,
    -- The course item of kind `assignment` these settings belong to.
    item_id uuid not null,
    course_id uuid not null,
    instructions text not null default '' check (length(instructions) <= 50000),
    due_at timestamptz,
    late_policy text not null default 'accept' check (late_policy in ('accept', 'penalty', 'reject')),
    -- Points taken per day (or part of a day) late, as a percentage of the assignment's points.
    late_penalty_percent numeric(5, 2) check (late_penalty_percent > 0 and late_penalty_percent <= 100),
    accepts_text boolean not null default true,
    accepts_files boolean not null default false,
    max_files integer not null default 5 check (max_files between 1 and 20),
    max_file_bytes integer not null default 10485760 check (max_file_bytes between 1 and 52428800),
    -- Lower-case file name extensions accepted (see assignments::files for the default list).
    file_extensions text[] not null,
    points numeric(8, 2) not null check (points > 0 and points <= 1000),
    passing_percent numeric(5, 2) not null default 50 check (passing_percent between 0 and 100),
    -- Criteria with levels and their points (see assignments::rubric); null: graded by points.
    rubric jsonb,
    updated_at timestamptz not null default now(),
    primary key (tenant_id, item_id),
    check (accepts_text or accepts_files),
    check ((late_policy = 'penalty') = (late_penalty_percent is not null)),
    foreign key (tenant_id, course_id, item_id)
        references course_items (tenant_id, course_id, id) on delete cascade
);
create trigger assignments_updated_at before update on assignments
    for each row execute function set_updated_at();

create table assignment_submissions (
    tenant_id uuid not null,
    id uuid not null,
    item_id uuid not null,
    course_id uuid not null,
    enrollment_id uuid not null,
    user_id uuid not null,
    number integer not null check (number >= 1),
    body text check (length(body) <= 100000),
    submitted_at timestamptz not null default now(),
    -- How long after the due date it came in (0: on time).
    late_seconds integer not null default 0 check (late_seconds >= 0),
    -- submitted: waiting for a grade; graded; superseded: a later submission replaced it before
    -- it was graded.
    status text not null default 'submitted'
        check (status in ('submitted', 'graded', 'superseded')),
    raw_score numeric(10, 2) check (raw_score >= 0),
    penalty numeric(10, 2) check (penalty >= 0),
    score numeric(10, 2) check (score >= 0),
    percent numeric(5, 2) check (percent between 0 and 100),
    passed boolean,
    -- The level chosen per rubric criterion, with the grader's comment on it.
    rubric_grades jsonb,
    feedback text check (length(feedback) <= 20000),
    -- Comments anchored to a span of the text or to a file.
    inline_comments jsonb,
    graded_by uuid,
    graded_at timestamptz,
    released_at timestamptz,
    primary key (tenant_id, id),
    constraint assignment_submissions_number_key unique (tenant_id, item_id, user_id, number),
    constraint assignment_submissions_grade check (
        (status = 'graded') = (graded_at is not null and score is not null and percent is not null
            and passed is not null and graded_by is not null)
        and (released_at is null or status = 'graded')
    ),
    foreign key (tenant_id, item_id) references assignments (tenant_id, item_id) on delete cascade,
    foreign key (tenant_id, enrollment_id) references enrollments (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id),
    foreign key (tenant_id, graded_by) references users (tenant_id, id)
);
create index assignment_submissions_user
    on assignment_submissions (tenant_id, user_id, item_id, number);
create index assignment_submissions_item
    on assignment_submissions (tenant_id, item_id, user_id, number);
-- The instructors' grading queue: what waits for a grade, oldest first.
create index assignment_submissions_waiting
    on assignment_submissions (tenant_id, course_id, submitted_at, id)
    where status = 'submitted';

create table submission_files (
    tenant_id uuid not null,
    id uuid not null,
    submission_id uuid not null,
    position integer not null check (position >= 0),
    file_name text not null check (length(file_name) between 1 and 255),
    content_type text not null,
    size_bytes integer not null check (size_bytes >= 0),
    sha256 text not null check (length(sha256) = 64),
    -- Where the bytes are in the file storage.
    storage_key text not null,
    primary key (tenant_id, id),
    constraint submission_files_position_key unique (tenant_id, submission_id, position),
    foreign key (tenant_id, submission_id)
        references assignment_submissions (tenant_id, id) on delete cascade
);

-- How a course's grade is made of its assessments' scores. Absent: every quiz and assignment
-- counts with weight 1.
create table gradebook_settings (
    tenant_id uuid not null,
    course_id uuid not null,
    -- assessment: the weighted mean of the assessments' percentages; category: the weighted mean
    -- of the categories' (each the weighted mean of its assessments).
    weighting text not null default 'assessment' check (weighting in ('assessment', 'category')),
    -- [{ "name": text, "weight": number }]
    categories jsonb not null default '[]',
    updated_at timestamptz not null default now(),
    primary key (tenant_id, course_id),
    foreign key (tenant_id, course_id) references courses (tenant_id, id) on delete cascade
);
create trigger gradebook_settings_updated_at before update on gradebook_settings
    for each row execute function set_updated_at();

create table gradebook_items (
    tenant_id uuid not null,
    course_id uuid not null,
    item_id uuid not null,
    weight numeric(8, 2) not null default 1 check (weight >= 0 and weight <= 1000),
    category text check (length(category) between 1 and 100),
    primary key (tenant_id, item_id),
    foreign key (tenant_id, course_id) references gradebook_settings (tenant_id, course_id)
        on delete cascade,
    foreign key (tenant_id, course_id, item_id)
        references course_items (tenant_id, course_id, id) on delete cascade
);
create index gradebook_items_course on gradebook_items (tenant_id, course_id);

alter table assignments enable row level security;
alter table assignments force row level security;
alter table assignment_submissions enable row level security;
alter table assignment_submissions force row level security;
alter table submission_files enable row level security;
alter table submission_files force row level security;
alter table gradebook_settings enable row level security;
alter table gradebook_settings force row level security;
alter table gradebook_items enable row level security;
alter table gradebook_items force row level security;

create policy tenant_isolation on assignments to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on assignment_submissions to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on submission_files to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on gradebook_settings to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on gradebook_items to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update on assignments, assignment_submissions to lms_app;
-- Files are written once with their submission; a failed submission's rows roll back.
grant select, insert on submission_files to lms_app;
grant select, insert, update, delete on gradebook_settings, gradebook_items to lms_app;
