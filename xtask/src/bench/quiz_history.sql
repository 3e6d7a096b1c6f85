-- Last week's quiz of the storm's course, seeded as the cluster superuser with psql variables
-- tenant_id, course_id, item_id (the course's other quiz item): 20 true/false questions in a
-- course bank and one graded attempt per enrolled learner (20 answers each, about 70 % right,
-- a pass completing the item). The attempt tables then hold a history, and PostgreSQL
-- statistics of it, before the storm begins, as they would on a server in use.
\set ON_ERROR_STOP 1
begin;

create function pg_temp.uuid7(ts timestamptz) returns uuid language sql volatile as $$
    select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        placing substring(int8send(floor(extract(epoch from ts) * 1000)::bigint) from 3)
        from 1 for 6), 52, 1), 53, 1), 'hex')::uuid
$$;

select u.id as staff_id from course_instructors ci
join users u on u.tenant_id = ci.tenant_id and u.id = ci.user_id
where ci.tenant_id = :'tenant_id' and ci.course_id = :'course_id' and ci.role = 'owner'
limit 1 \gset

insert into question_banks (tenant_id, id, course_id, title, description, created_by,
                            created_at, updated_at)
values (:'tenant_id', pg_temp.uuid7(now() - interval '8 days'), :'course_id', 'Module 2 checks',
        'True or false statements about the second module.', :'staff_id',
        now() - interval '8 days', now() - interval '8 days')
returning id as bank_id \gset

create temp table history_questions on commit drop as
select n, pg_temp.uuid7(now() - interval '8 days' + n * interval '1 minute') as id,
       n % 3 <> 0 as correct
from generate_series(0, 19) n;

insert into questions (tenant_id, id, bank_id, created_by, created_at, updated_at)
select :'tenant_id', id, :'bank_id', :'staff_id', now() - interval '8 days',
       now() - interval '8 days'
from history_questions;

insert into question_versions (tenant_id, question_id, version, kind, prompt, points, spec,
                               created_by, created_at)
select :'tenant_id', id, 1, 'true_false',
       'Statement ' || (n + 1) || ' of the second module holds.', 1,
       jsonb_build_object('type', 'true_false', 'correct', correct), :'staff_id',
       now() - interval '8 days'
from history_questions;

insert into quizzes (tenant_id, item_id, course_id, time_limit_seconds, max_attempts,
                     shuffle_questions, available_until)
values (:'tenant_id', :'item_id', :'course_id', 900, 1, true, now() - interval '5 days');

insert into quiz_slots (tenant_id, item_id, position, question_id)
select :'tenant_id', :'item_id', n, id from history_questions;

create temp table history_attempts on commit drop as
select pg_temp.uuid7(at) as id, enrollment_id, user_id, at
from (select e.id as enrollment_id, e.user_id,
             now() - interval '7 days' + random() * interval '2 days' as at
      from enrollments e
      where e.tenant_id = :'tenant_id' and e.course_id = :'course_id') e;

create temp table history_answers on commit drop as
select a.id as attempt_id, q.n as position, q.id as question_id, q.correct,
       random() < 0.7 as right_answer
from history_attempts a cross join history_questions q;

insert into quiz_attempts (tenant_id, id, item_id, course_id, enrollment_id, user_id, number,
                           status, started_at, deadline_at, submitted_at, max_score, score,
                           percent, passed, graded_at)
select :'tenant_id', a.id, :'item_id', :'course_id', a.enrollment_id, a.user_id, 1, 'graded',
       a.at, a.at + interval '15 minutes', a.at + interval '9 minutes', 20, s.score,
       s.score * 5, s.score >= 10, a.at + interval '9 minutes'
from history_attempts a
join (select attempt_id, count(*) filter (where right_answer) as score
      from history_answers group by attempt_id) s on s.attempt_id = a.id;

insert into attempt_questions (tenant_id, attempt_id, position, question_id, version, points,
                               presented, answer, answered_at, grading, awarded, graded_at)
select :'tenant_id', h.attempt_id, h.position, h.question_id, 1, 1, '{"type": "true_false"}',
       jsonb_build_object('value', h.correct = h.right_answer),
       a.at + h.position * interval '20 seconds', 'auto',
       case when h.right_answer then 1 else 0 end, a.at + interval '9 minutes'
from history_answers h join history_attempts a on a.id = h.attempt_id;

insert into item_progress (tenant_id, enrollment_id, item_id, completed_at, first_accessed_at,
                           last_accessed_at)
select :'tenant_id', a.enrollment_id, :'item_id', a.at + interval '9 minutes', a.at,
       a.at + interval '9 minutes'
from history_attempts a
join quiz_attempts q on q.tenant_id = :'tenant_id' and q.id = a.id
where q.passed;

commit;
select count(*) from quiz_attempts where tenant_id = :'tenant_id' and item_id = :'item_id';
