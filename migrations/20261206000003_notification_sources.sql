-- More reasons to notify: a module opening in a sequential course, an assignment due soon, and
-- an invitation accepted.

-- `module.unlocked` events notify their learner (the function of …_notifications.sql, with the
-- new type in its list).
create or replace function notifications_from_events() returns trigger
language plpgsql as $$
begin
    insert into jobs (tenant_id, id, kind, payload, max_attempts, unique_key)
    select e.tenant_id, lms_uuid_v7(), 'notifications.from_event',
           jsonb_build_object('event', e.id), 20, e.id::text
    from new_events e
    where e.kind in ('enrollment.created', 'quiz.attempt.graded', 'assignment.graded',
                     'course.completed', 'module.unlocked')
    on conflict (tenant_id, kind, unique_key) where unique_key is not null do nothing;
    if found then
        perform pg_notify('lms_jobs', '');
    end if;
    return null;
end
$$;

-- The due-soon schedule finds, across tenants, the assignments due within a day. Like the quiz
-- deadline sweep's indexes, this one serves a cross-tenant sweep and leads with its time.
create index assignments_due on assignments (due_at) where due_at is not null;
grant select on assignments to lms_operator;

-- Who invited an account (a tenant admin; null for the operator's invitations and every other
-- way in), told when the invitation is accepted.
alter table users add column invited_by uuid;
alter table users add constraint users_invited_by_fkey foreign key (tenant_id, invited_by)
    references users (tenant_id, id) on delete set null (invited_by);
create index users_invited_by on users (tenant_id, invited_by) where invited_by is not null;
