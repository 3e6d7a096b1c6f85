;; A grader component made of four core modules, each with its own linear memory. Three
;; "bomb" instances each grow their memory to 63 MiB and touch every page: about 190 MiB in
;; one call, which a memory limit applied per memory (rather than to the call's total) lets
;; through. A growth that is refused traps. Rust cannot build this shape, hence the text.
(component
  (core module $Bomb
    (memory 1)
    (func (export "bomb")
      (local $at i32)
      ;; 1 page to 1008 pages = 63 MiB.
      (if (i32.eq (memory.grow (i32.const 1007)) (i32.const -1))
        (then unreachable))
      (loop $touch
        (i32.store8 (local.get $at) (i32.const 1))
        (local.set $at (i32.add (local.get $at) (i32.const 65536)))
        (br_if $touch (i32.lt_u (local.get $at) (i32.const 66060288))))))

  (core instance $bomb1 (instantiate $Bomb))
  (core instance $bomb2 (instantiate $Bomb))
  (core instance $bomb3 (instantiate $Bomb))

  (core module $Main
    (import "bomb1" "bomb" (func $bomb1))
    (import "bomb2" "bomb" (func $bomb2))
    (import "bomb3" "bomb" (func $bomb3))
    ;; Three pages: room for the result at 0 and for the request's strings after it.
    (memory (export "memory") 3)
    (global $heap (mut i32) (i32.const 1024))
    ;; A bump allocator, enough for one call's request.
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at
        (i32.and
          (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $at) (local.get 3)))
      (local.get $at))
    ;; grade(request) -> result<grade, grade-error>, the request flattened into 15 values
    ;; and the result returned through memory.
    (func (export "grade")
      (param i32 i32 i32 i32 i32 i32 f64 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (call $bomb1)
      (call $bomb2)
      (call $bomb3)
      ;; ok(grade { points: 0, passed: false, feedback: [] })
      (i32.store8 (i32.const 0) (i32.const 0))
      (f64.store (i32.const 8) (f64.const 0))
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.store (i32.const 20) (i32.const 0))
      (i32.store (i32.const 24) (i32.const 0))
      (i32.const 0)))

  (core instance $main (instantiate $Main
    (with "bomb1" (instance $bomb1))
    (with "bomb2" (instance $bomb2))
    (with "bomb3" (instance $bomb3))))

  (type $grade-request' (record
    (field "question-kind" string)
    (field "prompt" string)
    (field "config" string)
    (field "max-points" f64)
    (field "response-text" (option string))
    (field "response-json" (option string))
    (field "learner" string)))
  (export $grade-request "grade-request" (type $grade-request'))
  (type $criterion' (record
    (field "name" string)
    (field "points" f64)
    (field "max-points" f64)
    (field "message" string)))
  (export $criterion "criterion" (type $criterion'))
  (type $grade' (record
    (field "points" f64)
    (field "passed" bool)
    (field "feedback" (list $criterion))))
  (export $grade "grade-record" (type $grade'))
  (type $grade-error' (variant
    (case "invalid-config" string)
    (case "invalid-response" string)
    (case "internal" string)))
  (export $grade-error "grade-error" (type $grade-error'))

  (func $grade-func (param "request" $grade-request) (result (result $grade (error $grade-error)))
    (canon lift (core func $main "grade")
      (memory (core memory $main "memory"))
      (realloc (core func $main "realloc"))))
  (export "grade" (func $grade-func)))
