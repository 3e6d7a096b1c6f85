-- Corporate managers and their teams: a cohort's managers see and change that cohort, read the
-- team report of its members and enroll them into published courses. Tenant admins assign them.

create table cohort_managers (
    tenant_id uuid not null,
    cohort_id uuid not null,
    -- A user with the `corporate_manager` role when assigned (checked by the service).
    user_id uuid not null,
    assigned_by uuid not null,
    assigned_at timestamptz not null default now(),
    primary key (tenant_id, cohort_id, user_id),
    foreign key (tenant_id, cohort_id) references cohorts (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id),
    foreign key (tenant_id, assigned_by) references users (tenant_id, id)
);
-- The cohorts a manager manages: every manager-scoped query starts here.
create index cohort_managers_user on cohort_managers (tenant_id, user_id, cohort_id);

-- The team report pages one user's enrollments newest first (`user_id` filter and the join from
-- team members); the unique (tenant_id, user_id, course_id) key does not give the id order.
create index enrollments_user on enrollments (tenant_id, user_id, id desc);
-- A quiz's results for the enrollments of one report page.
create index quiz_attempts_enrollment on quiz_attempts (tenant_id, enrollment_id, item_id)
    where status = 'graded';
-- An assignment's released grades for the enrollments of one report page.
create index assignment_submissions_released
    on assignment_submissions (tenant_id, enrollment_id, item_id, number desc)
    where status = 'graded' and released_at is not null;

alter table cohort_managers enable row level security;
alter table cohort_managers force row level security;
create policy tenant_isolation on cohort_managers to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, delete on cohort_managers to lms_app;
-- Cross-tenant reporting reads only.
grant select on cohort_managers to lms_operator;
