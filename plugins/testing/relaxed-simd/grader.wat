;; A grader whose score depends on what two relaxed-SIMD instructions return, which the
;; proposal leaves to the CPU: `i32x4.relaxed_trunc_f32x4_s` of NaN (0 when deterministic,
;; i32::MIN natively on x86) and `i8x16.relaxed_swizzle` with an out-of-range index (0 when
;; deterministic, a lane picked by the index's low bits natively on x86). One point for each
;; deterministic answer: 2 on every machine under the host's settings.
(component
  (core module $Main
    (memory (export "memory") 1)
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
      (local $points f64)
      (if (i32.eqz (i32x4.extract_lane 0
            (i32x4.relaxed_trunc_f32x4_s (f32x4.splat (f32.const nan)))))
        (then (local.set $points (f64.add (local.get $points) (f64.const 1)))))
      (if (i32.eqz (i8x16.extract_lane_u 0
            (i8x16.relaxed_swizzle
              (v128.const i8x16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
              (i8x16.splat (i32.const 0x1f)))))
        (then (local.set $points (f64.add (local.get $points) (f64.const 1)))))
      ;; ok(grade { points, passed: false, feedback: [] })
      (i32.store8 (i32.const 0) (i32.const 0))
      (f64.store (i32.const 8) (local.get $points))
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.store (i32.const 20) (i32.const 0))
      (i32.store (i32.const 24) (i32.const 0))
      (i32.const 0)))

  (core instance $main (instantiate $Main))

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
