/*
 * test_parser.c - the parser against SSE-SPEC rules 1-15 and the contract in sse.h.
 *
 * Every row runs whole, one byte at a time, split in two at every offset and, under 64
 * bytes, split in three at every pair of offsets; the recorder log (see test_recorder.h)
 * must equal the row's expected log for every split. A row that does not depend on the
 * data limit runs a second time in piece mode (SSE_OPT_PIECES) as <name>__pieces, where
 * the pieces are joined before printing, so the expected log is the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "test_recorder.h"

/* ---- expected-log shorthands -------------------------------------------------------- */

#define EV(t, d, id, f)      "EVENT t=\"" t "\" d=\"" d "\" id=\"" id "\" f=" f "\n"
#define MSG(d)               EV("message", d, "", "-")
#define RT(n, id)            "RETRY " #n " id=\"" id "\"\n"
#define CM(d, id)            "COMMENT d=\"" d "\" id=\"" id "\"\n"
#define DR(e, id, f)         "DROPPED %" #e "% id=\"" id "\" f=" f "\n"
#define ID(id)               "ID id=\"" id "\"\n"
#define END(st, last, retry) "END %" #st "% last=\"" last "\" retry=" #retry "\n"
#define OK                   END(OK, "", 3000)
#define TR                   END(TRUNCATED, "", 3000)
#define RC                   "\\uFFFD" /* U+FFFD as the log prints it */

#define O_RAW     SSE_OPT_RAW
#define O_COM     SSE_OPT_COMMENTS
#define O_EOF     SSE_OPT_DISPATCH_AT_EOF
#define O_PCS     SSE_OPT_PIECES
#define O_IDR     SSE_OPT_ID_RECORDS
#define X_NOPIECE 1u /* the row depends on the data limit: no piece-mode twin */

/* Flags of an SSE_ERR_ID_TOO_LONG record. sse.h: SSE_FLAG_HAS_ID means the block "had an
 * accepted id field"; an id that did not fit leaves the last event ID unchanged, so it was
 * not accepted and the flag is clear. (If the contract is meant otherwise, change it here.) */
#define ID_DROP_F "-"

#define CAP 4096 /* default storage: type/id up to 255 bytes, data up to 3071 */

typedef struct row {
    const char *name;
    const char *in;
    size_t in_len;
    unsigned opt;
    size_t cap;
    unsigned x;
    const char *expect;
} row;

#define R(name, in, opt, cap, x, expect)               \
    {                                                  \
#name, in, sizeof(in) - 1, opt, cap, x, expect \
    }

/* Limits used below: CAP 256 -> F 16: type and id up to 15 bytes, data up to 191.
 * CAP 100 -> F 6: type and id up to 5, data up to 75. CAP 16 -> F 1: type and id must be
 * empty, data up to 11. CAP 64 -> F 4: type and id up to 3, data up to 47. */
static const row rows[] = {
    /* ---- rule 12 data, rule 14 dispatch --------------------------------------------- */
    R(two_data_lines_join_with_lf, "data: a\ndata: b\n\n", 0, CAP, 0, MSG("a\\nb") OK),
    R(three_data_lines_join_with_lf, "data: a\ndata: b\ndata: c\n\n", 0, CAP, 0,
      MSG("a\\nb\\nc") OK),
    R(space_after_colon_is_optional, "data:a\n\ndata: a\n\n", 0, CAP, 0, MSG("a") MSG("a") OK),
    R(only_one_leading_space_is_removed, "data:  a\n\n", 0, CAP, 0, MSG(" a") OK),
    R(tab_after_colon_is_kept, "data:\tx\n\n", 0, CAP, 0, MSG("\\tx") OK),
    R(trailing_spaces_are_kept, "data: x  \n\n", 0, CAP, 0, MSG("x  ") OK),
    R(value_of_two_spaces_keeps_one, "data:  \n\n", 0, CAP, 0, MSG(" ") OK),
    R(colon_in_value_is_kept, "data: a:b: c\n\n", 0, CAP, 0, MSG("a:b: c") OK),
    R(value_starting_with_colon_is_kept, "data::x\n\n", 0, CAP, 0, MSG(":x") OK),
    R(quote_and_backslash_in_data_are_kept, "data: \"\\\n\n", 0, CAP, 0, MSG("\\\"\\\\") OK),
    R(data_without_colon_dispatches_empty_data, "data\n\n", 0, CAP, 0, MSG("") OK),
    R(data_colon_empty_value_dispatches_empty_data, "data:\n\n", 0, CAP, 0, MSG("") OK),
    R(data_colon_space_dispatches_empty_data, "data: \n\n", 0, CAP, 0, MSG("") OK),
    R(two_empty_data_lines_give_one_lf, "data\ndata\n\n", 0, CAP, 0, MSG("\\n") OK),
    R(data_then_empty_data_keeps_inner_lf, "data: a\ndata\n\n", 0, CAP, 0, MSG("a\\n") OK),
    R(empty_data_then_data_keeps_inner_lf, "data\ndata: b\n\n", 0, CAP, 0, MSG("\\nb") OK),
    R(blank_lines_alone_dispatch_nothing, "\n\n\n", 0, CAP, 0, OK),
    R(unknown_field_between_data_lines_is_skipped, "data: a\nfoo: x\ndata: b\n\n", 0, CAP, 0,
      MSG("a\\nb") OK),
    R(comment_between_data_lines_is_skipped, "data: a\n: c\ndata: b\n\n", 0, CAP, 0,
      MSG("a\\nb") OK),
    R(nul_in_data_is_kept, "data: a\000b\n\n", 0, CAP, 0, MSG("a\\0b") OK),
    R(nul_alone_in_data_is_kept, "data: \000\n\n", 0, CAP, 0, MSG("\\0") OK),
    R(many_events_in_one_stream, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 0, CAP, 0,
      MSG("1") MSG("2") MSG("3") OK),

    /* ---- rule 12 event -------------------------------------------------------------- */
    R(named_event_then_default_type, "event: x\ndata: 1\n\ndata: 2\n\n", 0, CAP, 0,
      EV("x", "1", "", "-") MSG("2") OK),
    R(empty_event_value_means_message, "event:\ndata: 1\n\n", 0, CAP, 0, MSG("1") OK),
    R(event_without_colon_means_message, "event\ndata: 1\n\n", 0, CAP, 0, MSG("1") OK),
    R(last_event_field_wins, "event: a\nevent: b\ndata: 1\n\n", 0, CAP, 0,
      EV("b", "1", "", "-") OK),
    R(empty_event_field_after_named_means_message, "event: a\nevent:\ndata: 1\n\n", 0, CAP, 0,
      MSG("1") OK),
    R(type_cleared_after_blank_line_without_data, "event: add\n\ndata: x\n\n", 0, CAP, 0,
      MSG("x") OK),
    R(event_value_keeps_second_space, "event:  x\ndata: 1\n\n", 0, CAP, 0,
      EV(" x", "1", "", "-") OK),
    R(event_value_keeps_tab, "event:\tx\ndata: 1\n\n", 0, CAP, 0, EV("\\tx", "1", "", "-") OK),
    R(event_value_keeps_colon, "event: a:b\ndata: 1\n\n", 0, CAP, 0, EV("a:b", "1", "", "-") OK),
    R(nul_in_event_type_is_kept, "event: a\000b\ndata: x\n\n", 0, CAP, 0,
      EV("a\\0b", "x", "", "-") OK),
    R(event_named_message_explicitly, "event: message\ndata: x\n\n", 0, CAP, 0, MSG("x") OK),

    /* ---- rule 12 id, rule 14a, SSE_FLAG_HAS_ID ---------------------------------------- */
    R(id_persists_across_events, "id: 7\ndata: a\n\ndata: b\n\n", 0, CAP, 0,
      EV("message", "a", "7", "I") EV("message", "b", "7", "-") END(OK, "7", 3000)),
    R(id_only_block_sets_last_id, "id: 7\n\ndata: b\n\n", 0, CAP, 0,
      EV("message", "b", "7", "-") END(OK, "7", 3000)),
    R(blank_line_commits_id_without_event, "id: 7\n\n", 0, CAP, 0, END(OK, "7", 3000)),
    R(empty_id_resets_last_id, "id: 1\ndata: a\n\nid\ndata: c\n\n", 0, CAP, 0,
      EV("message", "a", "1", "I") EV("message", "c", "", "I") OK),
    R(id_colon_empty_value_resets_last_id, "id: 1\ndata: a\n\nid:\ndata: c\n\n", 0, CAP, 0,
      EV("message", "a", "1", "I") EV("message", "c", "", "I") OK),
    R(id_with_nul_keeps_previous_id, "id: 1\ndata: a\n\nid: 2\0003\ndata: b\n\n", 0, CAP, 0,
      EV("message", "a", "1", "I") EV("message", "b", "1", "-") END(OK, "1", 3000)),
    R(id_of_only_nul_does_not_reset, "id: 1\n\nid: \000\n\n", 0, CAP, 0, END(OK, "1", 3000)),
    R(valid_id_after_nul_id_in_same_block_counts, "id: 1\000\nid: 2\ndata: x\n\n", 0, CAP, 0,
      EV("message", "x", "2", "I") END(OK, "2", 3000)),
    R(id_after_data_in_same_block_applies, "data: x\nid: 3\n\n", 0, CAP, 0,
      EV("message", "x", "3", "I") END(OK, "3", 3000)),
    R(last_id_field_in_block_wins, "id: 1\nid: 2\ndata: x\n\n", 0, CAP, 0,
      EV("message", "x", "2", "I") END(OK, "2", 3000)),
    R(id_keeps_second_space_colons_and_trailing_space, "id:  a:b \ndata: x\n\n", 0, CAP, 0,
      EV("message", "x", " a:b ", "I") END(OK, " a:b ", 3000)),
    R(has_id_flag_is_per_block, "id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n", 0, CAP, 0,
      EV("message", "a", "1", "I") EV("message", "b", "1", "-") EV("message", "c", "2", "I")
          END(OK, "2", 3000)),
    R(ids_across_blocks_with_ignored_and_repaired_values,
      "id: 1\n\nid: 2\nid: 3\000\nid: 4\nid: \xFF\ndata: x\n\nid: 5\nid: \000\n\ndata: y\n\n", 0,
      CAP, 0, EV("message", "x", RC, "I") EV("message", "y", "5", "-") END(OK, "5", 3000)),
    R(id_slots_survive_many_blocks, "id: a\n\nid: b\nid: c\n\nid: d\000\n\ndata: x\n\nid: e\n\n", 0,
      CAP, 0, EV("message", "x", "c", "-") END(OK, "e", 3000)),
    R(nul_id_alone_does_not_set_has_id, "id: \000\ndata: x\n\n", 0, CAP, 0, MSG("x") OK),
    R(repaired_data_then_clean_data, "data: \xFF\ndata: b\n\n", 0, CAP, 0, MSG(RC "\\nb") OK),
    R(clean_data_then_repaired_data_then_clean, "data: a\ndata: \xC3\ndata: c\n\n", 0, CAP, 0,
      MSG("a\\n" RC "\\nc") OK),
    R(type_after_data_line, "data: x\nevent: t\n\n", 0, CAP, 0, EV("t", "x", "", "-") OK),
    R(long_unknown_names_are_ignored, "dataxyz: 1\neventful\nretry5\nabcdefghij: x\ndata: y\n\n", 0,
      CAP, 0, MSG("y") OK),
    R(id_in_event_truncated_by_end_of_stream_is_not_committed, "id: 1\ndata: a\n\nid: 2\ndata: b",
      0, CAP, 0, EV("message", "a", "1", "I") END(TRUNCATED, "1", 3000)),
    R(id_in_unterminated_block_is_not_committed, "id: 2\ndata: b\n", 0, CAP, 0, TR),
    R(id_only_unterminated_block_is_truncated, "id: 5\n", 0, CAP, 0, TR),
    R(id_value_is_utf8_repaired, "id: \xff\ndata: x\n\n", 0, CAP, 0,
      EV("message", "x", RC, "I") END(OK, RC, 3000)),
    R(retry_record_carries_committed_id_not_pending_id, "id: 3\nretry: 5\n\n", 0, CAP, 0,
      RT(5, "") END(OK, "3", 5)),

    /* ---- rule 3 line endings ---------------------------------------------------------- */
    R(crlf_line_endings, "data: a\r\ndata: b\r\n\r\n", 0, CAP, 0, MSG("a\\nb") OK),
    R(crlf_split_across_chunks_is_one_line_end, "data: a\r\n\r\ndata: b\r\n\r\n", 0, CAP, 0,
      MSG("a") MSG("b") OK),
    R(cr_line_endings, "data: a\rdata: b\r\r", 0, CAP, 0, MSG("a\\nb") OK),
    R(mixed_line_endings, "data: a\r\ndata: b\rdata: c\n\n", 0, CAP, 0, MSG("a\\nb\\nc") OK),
    R(lf_cr_is_two_line_ends, "data: a\n\rdata: b\n\n", 0, CAP, 0, MSG("a") MSG("b") OK),
    R(cr_cr_is_two_line_ends, "data: a\r\rdata: b\r\r", 0, CAP, 0, MSG("a") MSG("b") OK),
    R(cr_then_crlf_is_two_line_ends, "data: a\r\r\ndata: b\n\n", 0, CAP, 0, MSG("a") MSG("b") OK),
    R(crlf_then_lf_is_two_line_ends, "data: a\r\n\ndata: b\n\n", 0, CAP, 0, MSG("a") MSG("b") OK),
    R(crlf_then_cr_is_two_line_ends, "data: a\r\n\rdata: b\n\n", 0, CAP, 0, MSG("a") MSG("b") OK),
    R(cr_inside_value_ends_the_line, "data: a\rdata\n\n", 0, CAP, 0, MSG("a\\n") OK),
    R(cr_cr_at_end_of_stream_dispatches, "data: a\r\r", 0, CAP, 0, MSG("a") OK),
    R(lone_cr_is_a_blank_line, "\r", 0, CAP, 0, OK),
    R(lone_crlf_is_a_blank_line, "\r\n", 0, CAP, 0, OK),
    R(lf_cr_lf_is_two_blank_lines, "\n\r\n", 0, CAP, 0, OK),

    /* ---- rule 2 BOM ------------------------------------------------------------------- */
    R(bom_is_stripped,
      "\xEF\xBB\xBF"
      "data: x\n\n",
      0, CAP, 0, MSG("x") OK),
    R(second_bom_makes_first_line_unknown,
      "\xEF\xBB\xBF\xEF\xBB\xBF"
      "data: 1\n\ndata: 2\n\n",
      0, CAP, 0, MSG("2") OK),
    R(bom_after_start_is_content,
      "data: 1\n\n\xEF\xBB\xBF"
      "data: 2\n\n",
      0, CAP, 0, MSG("1") OK),
    R(bom_then_lf_is_a_line_ending, "\xEF\xBB\xBF\ndata: a\n\n", 0, CAP, 0, MSG("a") OK),
    R(bom_then_cr_is_a_line_ending, "\xEF\xBB\xBF\rdata: a\r\r", 0, CAP, 0, MSG("a") OK),
    R(bom_inside_data_is_kept, "data: \xEF\xBB\xBFx\n\n", 0, CAP, 0, MSG("\\xef\\xbb\\xbfx") OK),
    R(partial_bom_one_byte_then_text_is_not_stripped,
      "\xEF"
      "data: 1\n\ndata: 2\n\n",
      0, CAP, 0, MSG("2") OK),
    R(partial_bom_two_bytes_then_text_is_not_stripped,
      "\xEF\xBB"
      "data: 1\n\ndata: 2\n\n",
      0, CAP, 0, MSG("2") OK),
    R(bom_lookalike_ef_bb_be_is_not_stripped,
      "\xEF\xBB\xBE"
      "data: 1\n\ndata: 2\n\n",
      0, CAP, 0, MSG("2") OK),
    R(partial_bom_then_line_end_is_an_unknown_line, "\xEF\xBB\ndata: 2\n\n", 0, CAP, 0,
      MSG("2") OK),
    R(bom_only_stream_finishes_ok, "\xEF\xBB\xBF", 0, CAP, 0, OK),
    R(partial_bom_at_end_of_stream_is_a_partial_line, "\xEF\xBB", 0, CAP, 0, TR),
    R(bom_is_stripped_in_raw_mode,
      "\xEF\xBB\xBF"
      "data: x\n\n",
      O_RAW, CAP, 0, MSG("x") OK),
    R(partial_bom_is_not_stripped_in_raw_mode,
      "\xEF\xBB"
      "data: 1\n\ndata: 2\n\n",
      O_RAW, CAP, 0, MSG("2") OK),
    R(bom_then_comment_is_a_comment, "\xEF\xBB\xBF: x\n", O_COM, CAP, 0, CM("x", "") OK),

    /* ---- rules 8-11, 13 field parsing -------------------------------------------------- */
    R(field_names_are_case_sensitive, "data: a\nDATA: b\nData: c\n\n", 0, CAP, 0, MSG("a") OK),
    R(space_before_colon_makes_unknown_field, "data : x\ndata: y\n\n", 0, CAP, 0, MSG("y") OK),
    R(space_before_name_makes_unknown_field, " data: x\ndata: y\n\n", 0, CAP, 0, MSG("y") OK),
    R(tab_before_colon_makes_unknown_field, "data\t: x\ndata: y\n\n", 0, CAP, 0, MSG("y") OK),
    R(prefix_and_extension_of_name_are_unknown, "dat: x\ndatas: y\ndata: z\n\n", 0, CAP, 0,
      MSG("z") OK),
    R(capitalised_event_id_retry_are_unknown, "Event: x\nID: 5\nRetry: 5\ndata: z\n\n", 0, CAP, 0,
      MSG("z") OK),
    R(name_with_nul_is_unknown, "da\000ta: x\ndata: y\n\n", 0, CAP, 0, MSG("y") OK),
    R(unknown_fields_are_ignored, "foo: bar\ndata: a\nfoo\n\n", 0, CAP, 0, MSG("a") OK),
    R(unknown_field_alone_leaves_nothing_pending, "foo: bar\n", 0, CAP, 0, OK),
    R(comment_lines_are_ignored, ": hello\ndata: a\n: again\n\n", 0, CAP, 0, MSG("a") OK),
    R(comment_only_block_dispatches_nothing, ": ping\n\n", 0, CAP, 0, OK),
    R(comment_line_then_end_of_stream_is_not_truncated, ": ping\n", 0, CAP, 0, OK),
    R(colon_alone_is_a_comment, ":\n\n", 0, CAP, 0, OK),

    /* ---- rule 12 retry ---------------------------------------------------------------- */
    R(retry_digits_accepted, "retry: 1000\n", 0, CAP, 0, RT(1000, "") END(OK, "", 1000)),
    R(retry_zero_accepted, "retry: 0\n", 0, CAP, 0, RT(0, "") END(OK, "", 0)),
    R(retry_leading_zeros_accepted, "retry: 007\n", 0, CAP, 0, RT(7, "") END(OK, "", 7)),
    R(retry_without_space_accepted, "retry:5\n", 0, CAP, 0, RT(5, "") END(OK, "", 5)),
    R(retry_empty_value_is_ignored, "retry: \nretry:\nretry\n", 0, CAP, 0, OK),
    R(retry_with_leading_space_is_ignored, "retry:  5\n", 0, CAP, 0, OK),
    R(retry_with_trailing_space_is_ignored, "retry: 5 \n", 0, CAP, 0, OK),
    R(retry_with_plus_sign_is_ignored, "retry: +5\n", 0, CAP, 0, OK),
    R(retry_with_minus_sign_is_ignored, "retry: -5\n", 0, CAP, 0, OK),
    R(retry_with_decimal_point_is_ignored, "retry: 5.0\n", 0, CAP, 0, OK),
    R(retry_with_exponent_is_ignored, "retry: 1e3\n", 0, CAP, 0, OK),
    R(retry_hex_is_ignored, "retry: 0x10\n", 0, CAP, 0, OK),
    R(retry_with_letter_suffix_is_ignored, "retry: 10x\n", 0, CAP, 0, OK),
    R(retry_with_tab_is_ignored, "retry:\t5\n", 0, CAP, 0, OK),
    R(retry_with_nul_is_ignored, "retry: 5\000\n", 0, CAP, 0, OK),
    R(retry_with_fullwidth_digit_is_ignored, "retry: \xEF\xBC\x95\n", 0, CAP, 0, OK),
    R(retry_max_u64_accepted, "retry: 18446744073709551615\n", 0, CAP, 0,
      RT(18446744073709551615, "") END(OK, "", 18446744073709551615)),
    R(retry_max_u64_plus_one_is_ignored, "retry: 18446744073709551616\nretry: 3\n", 0, CAP, 0,
      RT(3, "") END(OK, "", 3)),
    R(retry_twenty_nines_is_ignored, "retry: 99999999999999999999\n", 0, CAP, 0, OK),
    R(retry_ten_times_max_is_ignored, "retry: 184467440737095516150\n", 0, CAP, 0, OK),
    R(retry_max_u64_with_many_leading_zeros_accepted,
      "retry: 000000000000000000000018446744073709551615\n", 0, CAP, 0,
      RT(18446744073709551615, "") END(OK, "", 18446744073709551615)),
    R(retry_in_order_with_events, "data: a\n\nretry: 20\ndata: b\n\n", 0, CAP, 0,
      MSG("a") RT(20, "") MSG("b") END(OK, "", 20)),
    R(retry_is_reported_when_processed_not_at_dispatch, "data: a\nretry: 1\ndata: b\n\n", 0, CAP, 0,
      RT(1, "") MSG("a\\nb") END(OK, "", 1)),
    R(retry_applies_without_dispatch, "retry: 500\ndata: x", 0, CAP, 0,
      RT(500, "") END(TRUNCATED, "", 500)),
    R(ignored_retry_keeps_previous_value, "retry: 5\nretry: x\n", 0, CAP, 0,
      RT(5, "") END(OK, "", 5)),
    R(last_retry_wins, "retry: 1\nretry: 2\n", 0, CAP, 0, RT(1, "") RT(2, "") END(OK, "", 2)),
    R(retry_on_unfinished_line_is_not_applied, "retry: 5", 0, CAP, 0, TR),
    R(retry_line_ended_by_cr_at_end_of_stream, "retry: 7\r", 0, CAP, 0, RT(7, "") END(OK, "", 7)),

    /* ---- rules 1 and 4 UTF-8 --------------------------------------------------------- */
    R(multibyte_utf8_is_kept, "data: h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x9A\x80\n\n", 0, CAP, 0,
      MSG("h\\xc3\\xa9llo \\xe2\\x9c\\x93 \\xf0\\x9f\\x9a\\x80") OK),
    R(multibyte_chars_split_across_chunks_are_intact, "data: \xF0\x9F\x9A\x80\xE2\x82\xAC\n\n", 0,
      CAP, 0, MSG("\\xf0\\x9f\\x9a\\x80\\xe2\\x82\\xac") OK),
    R(utf8_range_boundaries_are_valid,
      "data: \xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\xF0\x90\x80\x80"
      "\xF4\x8F\xBF\xBF\n\n",
      0, CAP, 0,
      MSG("\\xc2\\x80\\xdf\\xbf\\xe0\\xa0\\x80\\xed\\x9f\\xbf\\xee\\x80\\x80\\xef\\xbf\\xbf"
          "\\xf0\\x90\\x80\\x80\\xf4\\x8f\\xbf\\xbf") OK),
    R(replacement_char_in_input_is_kept, "data: \xEF\xBF\xBD\n\n", 0, CAP, 0, MSG(RC) OK),
    R(byte_ff_is_one_replacement, "data: \xFF\n\n", 0, CAP, 0, MSG(RC) OK),
    R(bytes_f5_to_ff_are_one_replacement_each, "data: \xF5\xF8\xFE\xFF\n\n", 0, CAP, 0,
      MSG(RC RC RC RC) OK),
    R(lone_continuation_byte_is_one_replacement,
      "data: a\x80"
      "b\n\n",
      0, CAP, 0, MSG("a" RC "b") OK),
    R(two_lone_continuations_are_two_replacements, "data: \x80\xBF\n\n", 0, CAP, 0, MSG(RC RC) OK),
    R(overlong_e0_80_is_two_replacements, "data: \xE0\x80\n\n", 0, CAP, 0, MSG(RC RC) OK),
    R(overlong_e0_80_80_is_three_replacements, "data: \xE0\x80\x80\n\n", 0, CAP, 0,
      MSG(RC RC RC) OK),
    R(overlong_e0_9f_bf_is_three_replacements, "data: \xE0\x9F\xBF\n\n", 0, CAP, 0,
      MSG(RC RC RC) OK),
    R(overlong_c0_80_is_two_replacements, "data: \xC0\x80\n\n", 0, CAP, 0, MSG(RC RC) OK),
    R(overlong_c1_bf_is_two_replacements, "data: \xC1\xBF\n\n", 0, CAP, 0, MSG(RC RC) OK),
    R(overlong_f0_80_80_80_is_four_replacements, "data: \xF0\x80\x80\x80\n\n", 0, CAP, 0,
      MSG(RC RC RC RC) OK),
    R(overlong_f0_8f_bf_bf_is_four_replacements, "data: \xF0\x8F\xBF\xBF\n\n", 0, CAP, 0,
      MSG(RC RC RC RC) OK),
    R(surrogate_ed_a0_80_is_three_replacements, "data: \xED\xA0\x80\n\n", 0, CAP, 0,
      MSG(RC RC RC) OK),
    R(surrogate_ed_bf_bf_is_three_replacements, "data: \xED\xBF\xBF\n\n", 0, CAP, 0,
      MSG(RC RC RC) OK),
    R(above_max_f4_90_is_two_replacements, "data: \xF4\x90\n\n", 0, CAP, 0, MSG(RC RC) OK),
    R(above_max_f4_90_80_80_is_four_replacements, "data: \xF4\x90\x80\x80\n\n", 0, CAP, 0,
      MSG(RC RC RC RC) OK),
    R(truncated_two_byte_at_line_end_is_one_replacement, "data: \xC3\r\r", 0, CAP, 0, MSG(RC) OK),
    R(truncated_three_byte_at_line_end_is_one_replacement, "data: \xE2\x82\n\n", 0, CAP, 0,
      MSG(RC) OK),
    R(truncated_four_byte_at_line_end_is_one_replacement, "data: \xF0\x9F\x9A\n\n", 0, CAP, 0,
      MSG(RC) OK),
    R(truncated_sequence_then_ascii,
      "data: \xE2\x82"
      "A\n\n",
      0, CAP, 0, MSG(RC "A") OK),
    R(truncated_sequence_then_new_sequence, "data: \xE2\xE2\x82\xAC\n\n", 0, CAP, 0,
      MSG(RC "\\xe2\\x82\\xac") OK),
    R(truncated_four_byte_then_ascii,
      "data: \xF0\x9F"
      "A\n\n",
      0, CAP, 0, MSG(RC "A") OK),
    R(lead_then_ascii_then_continuation, "data: \xE2(\xA1\n\n", 0, CAP, 0, MSG(RC "(" RC) OK),
    R(sequence_cut_by_line_ending_is_ill_formed, "data: \xE2\x82\ndata: \xAC\n\n", 0, CAP, 0,
      MSG(RC "\\n" RC) OK),
    R(mixed_invalid_utf8_vector, "data:\xFFhello\xC2\ndata:bye\n\n", 0, CAP, 0,
      MSG(RC "hello" RC "\\nbye") OK),
    R(invalid_utf8_in_name_makes_unknown_field, "data\xC3: x\ndata: y\n\n", 0, CAP, 0, MSG("y") OK),
    R(event_type_is_utf8_repaired, "event: \xFF\ndata: x\n\n", 0, CAP, 0, EV(RC, "x", "", "-") OK),
    R(raw_mode_keeps_invalid_bytes, "data: \xFF\xE0\x80\xED\xA0\x80\xE2\x82\n\n", O_RAW, CAP, 0,
      MSG("\\xff\\xe0\\x80\\xed\\xa0\\x80\\xe2\\x82") OK),
    R(raw_mode_keeps_invalid_id, "id: \xFF\ndata: x\n\n", O_RAW, CAP, 0,
      EV("message", "x", "\\xff", "I") END(OK, "\\xff", 3000)),
    R(raw_mode_keeps_invalid_type, "event: \xC0\ndata: x\n\n", O_RAW, CAP, 0,
      EV("\\xc0", "x", "", "-") OK),
    R(raw_mode_keeps_valid_utf8, "data: \xE2\x82\xAC\n\n", O_RAW, CAP, 0,
      MSG("\\xe2\\x82\\xac") OK),

    /* ---- comments with SSE_OPT_COMMENTS --------------------------------------------- */
    R(comment_reported_with_option, ": hello\n", O_COM, CAP, 0, CM("hello", "") OK),
    R(comment_without_space_reported, ":hello\n", O_COM, CAP, 0, CM("hello", "") OK),
    R(comment_keeps_second_space, ":  two\n", O_COM, CAP, 0, CM(" two", "") OK),
    R(empty_comment_reported, ":\n", O_COM, CAP, 0, CM("", "") OK),
    R(comment_of_one_space_is_empty, ": \n", O_COM, CAP, 0, CM("", "") OK),
    R(comment_keeps_colons, ": a: b\n", O_COM, CAP, 0, CM("a: b", "") OK),
    R(comment_keeps_tab, ":\tx\n", O_COM, CAP, 0, CM("\\tx", "") OK),
    R(comment_keeps_nul, ": a\000b\n", O_COM, CAP, 0, CM("a\\0b", "") OK),
    R(comment_lines_ended_by_cr_and_crlf, ": a\r: b\r\n", O_COM, CAP, 0,
      CM("a", "") CM("b", "") OK),
    R(comment_inside_event_keeps_event, "data: a\n: c\ndata: b\n\n", O_COM, CAP, 0,
      CM("c", "") MSG("a\\nb") OK),
    R(comment_carries_last_id, "id: 1\n\n: c\n", O_COM, CAP, 0, CM("c", "1") END(OK, "1", 3000)),
    R(comment_is_utf8_repaired, ": \xFF\n", O_COM, CAP, 0, CM(RC, "") OK),
    R(comment_is_raw_in_raw_mode, ": \xFF\n", O_COM | O_RAW, CAP, 0, CM("\\xff", "") OK),
    R(unfinished_comment_line_is_truncated, ": ping", O_COM, CAP, 0, TR),

    /* ---- rule 15, sse_parser_finish --------------------------------------------------- */
    R(data_without_final_blank_line_is_discarded, "data: x", 0, CAP, 0, TR),
    R(data_with_single_line_end_is_discarded, "data: x\n", 0, CAP, 0, TR),
    R(data_with_single_cr_is_discarded, "data: x\r", 0, CAP, 0, TR),
    R(event_only_block_at_end_of_stream_is_truncated, "event: x\n", 0, CAP, 0, TR),
    R(empty_data_block_at_end_of_stream_is_truncated, "data\n", 0, CAP, 0, TR),
    R(unfinished_unknown_line_is_truncated, "foo", 0, CAP, 0, TR),
    R(empty_stream_finishes_ok, "", 0, CAP, 0, OK),
    R(complete_event_then_end_of_stream_is_ok, "data: x\n\n", 0, CAP, 0, MSG("x") OK),
    R(event_block_without_data_ended_is_ok, "event: x\n\n", 0, CAP, 0, OK),
    R(truncated_event_after_complete_one, "data: x\n\nevent: y\n", 0, CAP, 0, MSG("x") TR),
    R(dispatch_at_eof_dispatches_pending_block, "data: x\n", O_EOF, CAP, 0, MSG("x") OK),
    R(dispatch_at_eof_processes_unfinished_line, "data: x", O_EOF, CAP, 0, MSG("x") OK),
    R(dispatch_at_eof_after_cr, "data: x\r", O_EOF, CAP, 0, MSG("x") OK),
    R(dispatch_at_eof_joins_lines, "data: a\ndata: b", O_EOF, CAP, 0, MSG("a\\nb") OK),
    R(dispatch_at_eof_commits_id, "id: 5\ndata: x", O_EOF, CAP, 0,
      EV("message", "x", "5", "I") END(OK, "5", 3000)),
    R(dispatch_at_eof_id_only_block_commits_id, "id: 5\n", O_EOF, CAP, 0, END(OK, "5", 3000)),
    R(dispatch_at_eof_keeps_type, "event: t\ndata: x\n", O_EOF, CAP, 0, EV("t", "x", "", "-") OK),
    R(dispatch_at_eof_repairs_truncated_utf8, "data: \xE2\x82", O_EOF, CAP, 0, MSG(RC) OK),
    R(dispatch_at_eof_with_nothing_pending, "data: x\n\n", O_EOF, CAP, 0, MSG("x") OK),
    R(dispatch_at_eof_block_without_data_gives_no_event, "event: t\n", O_EOF, CAP, 0, OK),

    /* ---- limits: CAP 256 -> type/id <= 15, data <= 191 ------------------------------- */
    R(type_at_limit_is_delivered, "event: [[15*t]]\ndata: x\n\n", 0, 256, 0,
      EV("[[15*t]]", "x", "", "-") OK),
    R(type_one_over_limit_is_dropped_and_stream_continues,
      "event: [[16*t]]\ndata: x\n\ndata: y\n\n", 0, 256, 0, DR(TYPE_TOO_LONG, "", "-") MSG("y") OK),
    R(type_too_long_event_id_still_counts, "id: 4\nevent: [[16*t]]\ndata: x\n\ndata: y\n\n", 0, 256,
      0, DR(TYPE_TOO_LONG, "4", "I") EV("message", "y", "4", "-") END(OK, "4", 3000)),
    R(type_too_long_then_short_type_in_same_block_uses_short,
      "event: [[16*t]]\nevent: ok\ndata: x\n\n", 0, 256, 0, EV("ok", "x", "", "-") OK),
    R(id_at_limit_is_accepted, "id: [[15*i]]\ndata: x\n\n", 0, 256, 0,
      EV("message", "x", "[[15*i]]", "I") END(OK, "[[15*i]]", 3000)),
    R(id_too_long_drops_event_and_leaves_last_id_unchanged,
      "id: 1\n\nid: [[16*i]]\ndata: x\n\ndata: y\n\n", 0, 256, 0,
      DR(ID_TOO_LONG, "1", ID_DROP_F) EV("message", "y", "1", "-") END(OK, "1", 3000)),
    R(id_too_long_in_id_only_block_is_dropped, "id: 1\n\nid: [[16*i]]\n\n", 0, 256, 0,
      DR(ID_TOO_LONG, "1", ID_DROP_F) END(OK, "1", 3000)),
    R(id_too_long_then_short_id_in_same_block_uses_short, "id: [[16*i]]\nid: 5\ndata: x\n\n", 0,
      256, 0, EV("message", "x", "5", "I") END(OK, "5", 3000)),
    R(data_at_limit_is_delivered, "data: [[191*x]]\n\n", 0, 256, X_NOPIECE, MSG("[[191*x]]") OK),
    R(data_one_over_limit_is_dropped_and_stream_continues, "data: [[192*x]]\n\ndata: y\n\n", 0, 256,
      X_NOPIECE, DR(DATA_TOO_LONG, "", "-") MSG("y") OK),
    R(data_limit_counts_lf_between_lines, "data: [[95*x]]\ndata: [[95*y]]\n\n", 0, 256, X_NOPIECE,
      MSG("[[95*x]]\\n[[95*y]]") OK),
    R(data_limit_counts_lf_between_lines_over, "data: [[95*x]]\ndata: [[96*y]]\n\ndata: z\n\n", 0,
      256, X_NOPIECE, DR(DATA_TOO_LONG, "", "-") MSG("z") OK),
    R(many_empty_data_lines_at_limit, "[[192*data\n]]\n", 0, 256, X_NOPIECE, MSG("[[191*\\n]]") OK),
    R(many_empty_data_lines_hit_the_limit, "[[193*data\n]]\ndata: y\n\n", 0, 256, X_NOPIECE,
      DR(DATA_TOO_LONG, "", "-") MSG("y") OK),
    R(data_limit_counts_repair_bytes, "data: [[63*\xFF]]ab\n\n", 0, 256, X_NOPIECE,
      MSG("[[63*" RC "]]ab") OK),
    R(data_limit_counts_repair_bytes_over, "data: [[63*\xFF]]abc\n\ndata: y\n\n", 0, 256, X_NOPIECE,
      DR(DATA_TOO_LONG, "", "-") MSG("y") OK),
    R(data_limit_raw_bytes_at_limit, "data: [[191*\xFF]]\n\n", O_RAW, 256, X_NOPIECE,
      MSG("[[191*\\xff]]") OK),
    R(data_limit_raw_bytes_over, "data: [[192*\xFF]]\n\n", O_RAW, 256, X_NOPIECE,
      DR(DATA_TOO_LONG, "", "-") OK),
    R(data_too_long_event_id_still_counts, "id: 9\ndata: [[192*x]]\n\ndata: y\n\n", 0, 256,
      X_NOPIECE, DR(DATA_TOO_LONG, "9", "I") EV("message", "y", "9", "-") END(OK, "9", 3000)),
    R(data_too_long_event_id_after_data_still_counts, "data: [[192*x]]\nid: 9\n\n", 0, 256,
      X_NOPIECE, DR(DATA_TOO_LONG, "9", "I") END(OK, "9", 3000)),
    R(data_too_long_event_truncated_by_end_of_stream, "data: [[192*x]]\n", 0, 256, X_NOPIECE, TR),
    R(data_limit_repaired_line_then_clean_line_at_limit, "data: \xFF\ndata: [[187*x]]\n\n", 0, 256,
      X_NOPIECE, MSG(RC "\\n[[187*x]]") OK),
    R(data_limit_repaired_line_then_clean_line_over, "data: \xFF\ndata: [[188*x]]\n\ndata: y\n\n",
      0, 256, X_NOPIECE, DR(DATA_TOO_LONG, "", "-") MSG("y") OK),
    R(data_limit_clean_line_then_repaired_line_at_limit, "data: [[187*x]]\ndata: \xFF\n\n", 0, 256,
      X_NOPIECE, MSG("[[187*x]]\\n" RC) OK),
    R(data_limit_clean_line_then_repaired_line_over, "data: [[188*x]]\ndata: \xFF\n\ndata: y\n\n",
      0, 256, X_NOPIECE, DR(DATA_TOO_LONG, "", "-") MSG("y") OK),
    R(data_limit_clean_lines_at_limit, "data: [[63*x]]\ndata: [[63*y]]\ndata: [[63*z]]\n\n", 0, 256,
      X_NOPIECE, MSG("[[63*x]]\\n[[63*y]]\\n[[63*z]]") OK),
    R(data_limit_clean_lines_over, "data: [[63*x]]\ndata: [[63*y]]\ndata: [[64*z]]\n\n", 0, 256,
      X_NOPIECE, DR(DATA_TOO_LONG, "", "-") OK),
    R(data_over_limit_then_more_lines_stays_dropped, "data: [[192*x]]\ndata: a\ndata\n\n", 0, 256,
      X_NOPIECE, DR(DATA_TOO_LONG, "", "-") OK),
    R(repaired_type_at_limit, "event: [[5*\xFF]]\ndata: x\n\n", 0, 256, 0,
      EV("[[5*" RC "]]", "x", "", "-") OK),
    R(repaired_type_over_limit, "event: [[5*\xFF]]a\ndata: x\n\ndata: y\n\n", 0, 256, 0,
      DR(TYPE_TOO_LONG, "", "-") MSG("y") OK),
    R(repaired_id_at_limit, "id: [[5*\xFF]]\n\n", 0, 256, 0, END(OK, "[[5*" RC "]]", 3000)),
    R(repaired_id_over_limit, "id: 1\n\nid: [[5*\xFF]]a\n\n", 0, 256, 0,
      DR(ID_TOO_LONG, "1", ID_DROP_F) END(OK, "1", 3000)),
    R(too_long_id_after_good_id_in_block_drops_block, "id: a\n\nid: b\nid: [[16*i]]\n\n", 0, 256, 0,
      DR(ID_TOO_LONG, "a", ID_DROP_F) END(OK, "a", 3000)),
    R(too_long_type_after_good_type_in_block_drops_event, "event: a\nevent: [[16*t]]\ndata: x\n\n",
      0, 256, 0, DR(TYPE_TOO_LONG, "", "-") OK),
    R(dispatch_at_eof_reports_data_too_long, "data: [[192*x]]\n", O_EOF, 256, X_NOPIECE,
      DR(DATA_TOO_LONG, "", "-") OK),
    R(dispatch_at_eof_reports_id_too_long, "id: [[16*i]]\ndata: x", O_EOF, 256, 0,
      DR(ID_TOO_LONG, "", ID_DROP_F) OK),
    R(dispatch_at_eof_reports_type_too_long, "id: 3\nevent: [[16*t]]\ndata: x", O_EOF, 256, 0,
      DR(TYPE_TOO_LONG, "3", "I") END(OK, "3", 3000)),
    R(cap16_type_must_be_empty, "event: x\ndata: a\n\nevent:\ndata: b\n\n", 0, 16, 0,
      DR(TYPE_TOO_LONG, "", "-") MSG("b") OK),
    R(cap16_id_must_be_empty, "id: 1\ndata: a\n\nid\ndata: b\n\n", 0, 16, 0,
      DR(ID_TOO_LONG, "", ID_DROP_F) EV("message", "b", "", "I") OK),
    R(cap16_data_at_limit, "data: [[11*x]]\n\n", 0, 16, X_NOPIECE, MSG("[[11*x]]") OK),
    R(cap16_data_over_limit, "data: [[12*x]]\n\ndata: y\n\n", 0, 16, X_NOPIECE,
      DR(DATA_TOO_LONG, "", "-") MSG("y") OK),
    R(cap100_type_at_and_over_limit, "event: [[5*t]]\ndata: a\n\nevent: [[6*t]]\ndata: b\n\n", 0,
      100, 0, EV("[[5*t]]", "a", "", "-") DR(TYPE_TOO_LONG, "", "-") OK),
    R(cap100_id_at_and_over_limit, "id: [[5*i]]\n\nid: [[6*i]]\n\n", 0, 100, 0,
      DR(ID_TOO_LONG, "[[5*i]]", ID_DROP_F) END(OK, "[[5*i]]", 3000)),
    R(cap100_data_at_and_over_limit, "data: [[75*x]]\n\ndata: [[76*x]]\n\n", 0, 100, X_NOPIECE,
      MSG("[[75*x]]") DR(DATA_TOO_LONG, "", "-") OK),
    R(cap4096_type_at_and_over_limit, "event: [[255*t]]\ndata: a\n\nevent: [[256*t]]\ndata: b\n\n",
      0, 4096, 0, EV("[[255*t]]", "a", "", "-") DR(TYPE_TOO_LONG, "", "-") OK),
    R(cap4096_data_at_and_over_limit, "data: [[3071*x]]\n\ndata: [[3072*x]]\n\ndata: y\n\n", 0,
      4096, X_NOPIECE, MSG("[[3071*x]]") DR(DATA_TOO_LONG, "", "-") MSG("y") OK),
    R(comment_at_data_limit_is_reported, ": [[191*c]]\n", O_COM, 256, X_NOPIECE,
      CM("[[191*c]]", "") OK),
    R(comment_one_over_data_limit_is_dropped, ": [[192*c]]\n", O_COM, 256, X_NOPIECE,
      DR(COMMENT_TOO_LONG, "", "-") OK),
    R(comment_over_data_limit_is_dropped_and_stream_continues, ": [[193*c]]\ndata: y\n\n", O_COM,
      256, X_NOPIECE, DR(COMMENT_TOO_LONG, "", "-") MSG("y") OK),
    R(comment_too_long_beside_pending_data_keeps_event,
      "data: [[150*x]]\n: [[50*c]]\n: [[30*d]]\n\n", O_COM, 256, X_NOPIECE,
      DR(COMMENT_TOO_LONG, "", "-") CM("[[30*d]]", "") MSG("[[150*x]]") OK),

    R(id_too_long_after_good_id_leaves_no_trace_for_next_block,
      "id: 1\nid: [[16*i]]\n\ndata: x\n\n", 0, 256, 0,
      DR(ID_TOO_LONG, "", ID_DROP_F) MSG("x") OK),

    /* ---- id records (SSE_OPT_ID_RECORDS) ---------------------------------------------- */
    R(id_records_off_id_only_block_is_silent, "id: 5\n\ndata: x\n\n", 0, CAP, 0,
      EV("message", "x", "5", "-") END(OK, "5", 3000)),
    R(id_records_id_only_block_is_reported, "id: 5\n\ndata: x\n\n", O_IDR, CAP, 0,
      ID("5") EV("message", "x", "5", "-") END(OK, "5", 3000)),
    R(id_records_empty_id_resets_and_is_reported, "id: 5\n\nid\n\n", O_IDR, CAP, 0,
      ID("5") ID("") OK),
    R(id_records_in_stream_order, "data: a\nid: 1\n\nid: 2\nevent: t\n\n: c\nretry: 7\nid: 3\n\n",
      O_IDR | O_COM, CAP, 0,
      EV("message", "a", "1", "I") ID("2") CM("c", "2") RT(7, "2") ID("3") END(OK, "3", 7)),
    R(id_records_block_with_data_is_an_event_not_an_id_record, "id: 1\ndata\n\n", O_IDR, CAP, 0,
      EV("message", "", "1", "I") END(OK, "1", 3000)),
    R(id_records_nul_id_sets_nothing_and_reports_nothing, "id: a\0b\n\n", O_IDR, CAP, 0, OK),
    R(id_records_too_long_id_is_dropped_not_reported, "id: [[16*i]]\n\n", O_IDR, 256, 0,
      DR(ID_TOO_LONG, "", ID_DROP_F) OK),
    R(id_records_repaired_id, "id: \xFF\n\n", O_IDR, CAP, 0, ID(RC) END(OK, RC, 3000)),
    R(id_records_at_eof_with_dispatch_at_eof, "id: 9", O_IDR | O_EOF, CAP, 0,
      ID("9") END(OK, "9", 3000)),
    R(id_records_at_eof_discarded_without_dispatch_at_eof, "id: 9\n", O_IDR, CAP, 0, TR),

    /* ---- piece mode (SSE_OPT_PIECES) -------------------------------------------------- */
    R(pieces_data_beyond_storage_is_delivered, "data: [[1000*x]]\ndata: [[1000*y]]\n\n", O_PCS, 64,
      0, MSG("[[1000*x]]\\n[[1000*y]]") OK),
    R(pieces_many_empty_lines_beyond_storage, "[[300*data\n]]\n", O_PCS, 64, 0,
      MSG("[[299*\\n]]") OK),
    R(pieces_type_limit_still_applies, "data: [[100*x]]\nevent: abcd\n\ndata: y\n\n", O_PCS, 64, 0,
      DR(TYPE_TOO_LONG, "", "-") MSG("y") OK),
    R(pieces_id_limit_still_applies, "id: 1\n\ndata: [[100*x]]\nid: abcd\n\ndata: y\n\n", O_PCS, 64,
      0, DR(ID_TOO_LONG, "1", ID_DROP_F) EV("message", "y", "1", "-") END(OK, "1", 3000)),
    R(pieces_type_and_id_final_on_last_piece, "data: [[100*x]]\nevent: t\nid: 7\n\n", O_PCS, 64, 0,
      EV("t", "[[100*x]]", "7", "I") END(OK, "7", 3000)),
    R(pieces_truncated_event_at_end_of_stream, "data: [[100*x]]\ndata: y", O_PCS, 64, 0, TR),
    R(pieces_dispatch_at_eof, "data: [[100*x]]\ndata: y", O_PCS | O_EOF, 64, 0,
      MSG("[[100*x]]\\ny") OK),
    R(pieces_multibyte_chars_beyond_storage, "data: [[100*\xE2\x82\xAC]]\n\n", O_PCS, 64, 0,
      MSG("[[100*\\xe2\\x82\\xac]]") OK),
    R(pieces_comment_beside_large_pending_data, "data: [[40*x]]\n: [[20*c]]\n\n", O_PCS | O_COM, 64,
      0, CM("[[20*c]]", "") MSG("[[40*x]]") OK),
    R(pieces_comment_beside_data_over_storage, "data: [[100*x]]\n: [[40*c]]\ndata: y\n\n",
      O_PCS | O_COM, 64, 0, CM("[[40*c]]", "") MSG("[[100*x]]\\ny") OK),
    R(pieces_comment_over_data_room_is_dropped, ": [[60*c]]\ndata: y\n\n", O_PCS | O_COM, 64, 0,
      DR(COMMENT_TOO_LONG, "", "-") MSG("y") OK),
    R(pieces_utf8_repair_beyond_storage, "data: [[100*\xE2\x82]]\n\n", O_PCS, 64, 0,
      MSG("[[100*" RC "]]") OK),
};

/* ---- the runner ----------------------------------------------------------------------- */

typedef struct tcase {
    const row *r;
    unsigned opt;
    char name[160];
} tcase;

enum {
    SPLIT_WHOLE,
    SPLIT_BYTES,
    SPLIT_ONE,
    SPLIT_TWO
};

static void describe_split(char *out, size_t n, int mode, size_t a, size_t b)
{
    switch (mode) {
    case SPLIT_WHOLE: snprintf(out, n, "whole"); break;
    case SPLIT_BYTES: snprintf(out, n, "one byte at a time"); break;
    case SPLIT_ONE: snprintf(out, n, "split at %zu", a); break;
    default: snprintf(out, n, "split at %zu and %zu", a, b); break;
    }
}

/* Feeds in[from..to) as one chunk, copied to a buffer of exactly that size. */
static void feed_chunk(sse_parser *p, recorder *r, const unsigned char *in, size_t from, size_t to)
{
    size_t n = to - from;
    unsigned char *chunk = (unsigned char *)malloc(n ? n : 1);
    assert_non_null(chunk);
    if (n)
        memcpy(chunk, in + from, n);
    sse_error e = sse_parser_feed(p, chunk, n, rec_cb, r);
    memset(chunk, 0xEE, n); /* the parser must have copied what it keeps */
    free(chunk);
    if (e != SSE_OK) {
        const char *t = sse_strerror(e);
        sb_puts(&r->log, "FEED ");
        sb_escaped(&r->log, t, strlen(t));
        sb_puts(&r->log, "\n");
    }
}

static void run_split(unsigned opt, size_t cap, const unsigned char *in, size_t len, int mode,
                      size_t a, size_t b, strbuf *out, long *records)
{
    enum {
        CANARY = 32
    };
    unsigned char *storage = (unsigned char *)malloc(cap + CANARY);
    assert_non_null(storage);
    memset(storage, 0xCC, cap);
    memset(storage + cap, 0xA5, CANARY);
    sse_parser p;
    memset(&p, 0x5A, sizeof p);
    assert_int_equal(sse_parser_init(&p, storage, cap, opt), SSE_OK);
    recorder r;
    rec_init(&r, &p, opt);
    switch (mode) {
    case SPLIT_WHOLE: feed_chunk(&p, &r, in, 0, len); break;
    case SPLIT_BYTES:
        for (size_t i = 0; i < len; i++)
            feed_chunk(&p, &r, in, i, i + 1);
        break;
    case SPLIT_ONE:
        feed_chunk(&p, &r, in, 0, a);
        feed_chunk(&p, &r, in, a, len);
        break;
    default:
        feed_chunk(&p, &r, in, 0, a);
        feed_chunk(&p, &r, in, a, b);
        feed_chunk(&p, &r, in, b, len);
        break;
    }
    sse_error fin = sse_parser_finish(&p, rec_cb, &r);
    rec_end(&r, fin);
    for (size_t i = 0; i < CANARY; i++)
        if (storage[cap + i] != 0xA5) {
            sb_puts(&r.log, "!storage-overrun\n");
            break;
        }
    sb_reset(out);
    sb_add(out, r.log.s, r.log.len);
    if (records)
        *records = r.records;
    rec_free(&r);
    free(storage);
}

/* Feeds in whole (bytewise 0) or one byte at a time (1) with a callback that returns
 * non-zero from record number stop_at. The call that delivered it returns STOPPED, and so
 * does every later feed and finish, without a record, until sse_parser_reconnect(); after
 * it the parser works again. Outside piece mode the records before the stop must be the
 * first stop_at lines of the full log. Returns 0, or 1 after printing what went wrong. */
static int check_stop(const tcase *c, const unsigned char *in, size_t len, int bytewise,
                      long stop_at, const strbuf *full)
{
    char *storage = (char *)malloc(c->r->cap);
    assert_non_null(storage);
    sse_parser p;
    recorder r;
    assert_int_equal(sse_parser_init(&p, storage, c->r->cap, c->opt), SSE_OK);
    rec_init(&r, &p, c->opt);
    r.stop_at = stop_at;
    const char *why = NULL;
    int stopped = 0;
    size_t step = bytewise ? 1 : (len ? len : 1);
    for (size_t off = 0; off < len && !why; off += step) {
        size_t k = len - off < step ? len - off : step;
        long before = r.records;
        sse_error e = sse_parser_feed(&p, in + off, k, rec_cb, &r);
        if (stopped && (e != SSE_ERR_STOPPED || r.records != before))
            why = "a feed after the stop did not return STOPPED without records";
        else if (!stopped && e == SSE_ERR_STOPPED && r.records != stop_at)
            why = "feed returned STOPPED before the callback asked";
        else if (!stopped && e != SSE_ERR_STOPPED && r.records >= stop_at)
            why = "feed went on after the callback asked to stop";
        else if (!stopped && e != SSE_ERR_STOPPED && e != SSE_OK)
            why = "feed failed";
        stopped |= e == SSE_ERR_STOPPED;
    }
    if (!why) {
        long before = r.records;
        sse_error e = sse_parser_finish(&p, rec_cb, &r);
        if (stopped && (e != SSE_ERR_STOPPED || r.records != before))
            why = "finish after the stop did not return STOPPED without records";
        else if (!stopped && (c->opt & SSE_OPT_PIECES) && e != SSE_ERR_STOPPED &&
                 r.records < stop_at)
            stopped = 0; /* piece boundaries depend on the split: fewer records here */
        else if (!stopped && (e != SSE_ERR_STOPPED || r.records != stop_at))
            why = "finish did not stop at the record";
    }
    if (!why && !(c->opt & SSE_OPT_PIECES)) {
        /* the first stop_at lines of the full log */
        const char *end = full->s;
        for (long i = 0; i < stop_at && end; i++) {
            end = strchr(end, '\n');
            if (end)
                end++;
        }
        if (!end || (size_t)(end - full->s) != r.log.len ||
            memcmp(full->s, r.log.s, r.log.len) != 0)
            why = "the records before the stop differ from the full log";
    }
    if (!why) {
        sb_reset(&r.log);
        r.open = 0;
        r.stop_at = 0;
        if (sse_parser_reconnect(&p) != SSE_OK ||
            sse_parser_feed(&p, "data: z\n\n", 9, rec_cb, &r) != SSE_OK ||
            strncmp(sb_str(&r.log), "EVENT t=\"message\" d=\"z\" ", 24) != 0)
            why = "the parser did not work again after sse_parser_reconnect";
    }
    if (why)
        print_error("row %s, %s, callback stopping at record %ld: %s\nlog:\n%s---\n", c->name,
                    bytewise ? "one byte at a time" : "whole", stop_at, why, sb_str(&r.log));
    rec_free(&r);
    free(storage);
    return why != NULL;
}

static void run_case(void **state)
{
    const tcase *c = (const tcase *)*state;
    const row *rw = c->r;
    strbuf in = { 0 }, want = { 0 }, got = { 0 };
    expand(&in, rw->in, rw->in_len, 0);
    expand(&want, rw->expect, strlen(rw->expect), 1);
    const unsigned char *bytes = (const unsigned char *)in.s;
    size_t len = in.len;
    size_t stride = len <= 4096 ? 1 : len / 1024;
    char split[64];
    int failed = 0;
    long records[2] = { 0, 0 }; /* records whole and one byte at a time */

    for (int mode = SPLIT_WHOLE; mode <= SPLIT_TWO && !failed; mode++) {
        size_t a_end = mode == SPLIT_ONE || mode == SPLIT_TWO ? len : 0;
        if (mode == SPLIT_TWO && len >= 64)
            break;
        for (size_t a = 0; a <= a_end && !failed; a += (mode == SPLIT_ONE ? stride : 1)) {
            size_t b_end = mode == SPLIT_TWO ? len : a;
            for (size_t b = a; b <= b_end && !failed; b++) {
                run_split(c->opt, rw->cap, bytes, len, mode, a, b, &got,
                          mode == SPLIT_WHOLE   ? &records[0]
                          : mode == SPLIT_BYTES ? &records[1]
                                                : NULL);
                if (strcmp(sb_str(&got), sb_str(&want)) != 0) {
                    describe_split(split, sizeof split, mode, a, b);
                    print_error("row %s, %s:\n--- expected\n%s--- actual\n%s---\n", c->name, split,
                                sb_str(&want), sb_str(&got));
                    failed = 1;
                }
            }
        }
    }
    /* the callback stopping the parser at each record in turn */
    for (int bytewise = 0; bytewise < 2 && !failed; bytewise++)
        for (long k = 1; k <= records[bytewise] && !failed; k++)
            failed = check_stop(c, bytes, len, bytewise, k, &want);
    sb_free(&in);
    sb_free(&want);
    sb_free(&got);
    if (failed)
        fail();
}

/* ---- tests that are not rows ---------------------------------------------------------- */

typedef struct fixture {
    char storage[4096];
    sse_parser p;
    recorder r;
} fixture;

static void fx_init(fixture *f, size_t cap, unsigned opt)
{
    assert_int_equal(sse_parser_init(&f->p, f->storage, cap, opt), SSE_OK);
    rec_init(&f->r, &f->p, opt);
}

static sse_error fx_feed(fixture *f, const char *s)
{
    return sse_parser_feed(&f->p, s, strlen(s), rec_cb, &f->r);
}

static void fx_expect(fixture *f, const char *expect)
{
    strbuf want = { 0 };
    expand(&want, expect, strlen(expect), 1);
    if (strcmp(sb_str(&want), sb_str(&f->r.log)) != 0) {
        print_error("--- expected\n%s--- actual\n%s---\n", sb_str(&want), sb_str(&f->r.log));
        sb_free(&want);
        fail();
    }
    sb_free(&want);
    sb_reset(&f->r.log);
}

static void fx_finish(fixture *f)
{
    rec_end(&f->r, sse_parser_finish(&f->p, rec_cb, &f->r));
}

static fixture *fx_new(void)
{
    fixture *f = (fixture *)calloc(1, sizeof *f);
    assert_non_null(f);
    return f;
}

static void fx_free(fixture *f)
{
    rec_free(&f->r);
    free(f);
}

/* ---- sse_parser_set_last_id ---------------------------------------------------------- */

/* The issue-9 case: a client restores its last event ID, then the stream starts with a
 * BOM. Feeding "id: 42\n\n" instead would disarm BOM stripping and lose the first event;
 * set_last_id must not. Every split of the stream, both modes. */
static void set_last_id_keeps_bom_stripping(void **state)
{
    (void)state;
    static const char in[] = "\xEF\xBB\xBF"
                             "data: first\n\n";
    size_t n = sizeof in - 1;
    for (unsigned opt = 0; opt <= SSE_OPT_PIECES; opt += SSE_OPT_PIECES) {
        for (size_t cut = 0; cut <= n; cut++) {
            fixture *f = fx_new();
            fx_init(f, 256, opt);
            assert_int_equal(sse_parser_set_last_id(&f->p, "42", 2), SSE_OK);
            assert_int_equal(sse_parser_feed(&f->p, in, cut, rec_cb, &f->r), SSE_OK);
            assert_int_equal(sse_parser_feed(&f->p, in + cut, n - cut, rec_cb, &f->r), SSE_OK);
            fx_finish(f);
            fx_expect(f, EV("message", "first", "42", "-") END(OK, "42", 3000));
            fx_free(f);
        }
    }
}

/* A pending block without an id of its own takes the new ID at dispatch (as the last
 * event ID string is read at dispatch); a block with its own id keeps it, also while
 * that id line is being read. */
static void set_last_id_leaves_pending_block(void **state)
{
    (void)state;
    for (unsigned opt = 0; opt <= SSE_OPT_PIECES; opt += SSE_OPT_PIECES) {
        fixture *f = fx_new();
        fx_init(f, 256, opt);
        assert_int_equal(fx_feed(f, "data: a\n"), SSE_OK);
        assert_int_equal(sse_parser_set_last_id(&f->p, "7", 1), SSE_OK);
        assert_string_equal(sse_parser_last_id(&f->p, NULL), "7");
        assert_int_equal(fx_feed(f, "\n"), SSE_OK);
        fx_expect(f, EV("message", "a", "7", "-"));
        assert_int_equal(fx_feed(f, "id: 1\ndata: b\n"), SSE_OK);
        assert_int_equal(sse_parser_set_last_id(&f->p, "9", 1), SSE_OK);
        assert_int_equal(fx_feed(f, "\n"), SSE_OK);
        fx_expect(f, EV("message", "b", "1", "I"));
        assert_int_equal(fx_feed(f, "event: t\nid: 3"), SSE_OK);
        assert_int_equal(sse_parser_set_last_id(&f->p, "x", 1), SSE_OK);
        assert_int_equal(fx_feed(f, "4\ndata: c\n\n"), SSE_OK);
        fx_expect(f, EV("t", "c", "34", "I"));
        fx_finish(f);
        fx_expect(f, END(OK, "34", 3000));
        fx_free(f);
    }
}

static int set_from_cb(void *user, const sse_event *ev)
{
    sse_error *got = (sse_error *)user;
    (void)ev;
    *got = sse_parser_set_last_id(NULL, "", 0);
    return 0;
}

typedef struct busy_probe {
    sse_parser *p;
    sse_error got;
} busy_probe;

static int set_busy_cb(void *user, const sse_event *ev)
{
    busy_probe *b = (busy_probe *)user;
    (void)ev;
    b->got = sse_parser_set_last_id(b->p, "z", 1);
    return 0;
}

/* The rules of an id field: NUL (and CR, LF) refused, too long refused with its error,
 * empty resets; a refused ID leaves the last one unchanged. */
static void set_last_id_rules(void **state)
{
    (void)state;
    char storage[256]; /* F = 16: ids up to 15 bytes */
    char hdr[64];
    size_t n = 99;
    sse_parser p;
    sse_error got = SSE_OK;
    busy_probe probe;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);
    assert_int_equal(sse_parser_set_last_id(&p, "iiiiiiiiiiiiiii", 15), SSE_OK);
    assert_int_equal(sse_parser_set_last_id(&p, "abc", 3), SSE_OK);
    assert_string_equal(sse_parser_last_id(&p, &n), "abc");
    assert_int_equal(n, 3);
    assert_int_equal(sse_parser_set_last_id(&p, "0123456789abcdef", 16), SSE_ERR_ID_TOO_LONG);
    assert_int_equal(sse_parser_set_last_id(&p, "a\0b", 3), SSE_ERR_BAD_ID);
    assert_int_equal(sse_parser_set_last_id(&p, "a\rb", 3), SSE_ERR_BAD_ID);
    assert_int_equal(sse_parser_set_last_id(&p, "a\nb", 3), SSE_ERR_BAD_ID);
    /* ids the parser reports are repaired UTF-8: an ill-formed one is refused, unless RAW */
    assert_int_equal(sse_parser_set_last_id(&p, "\xFF", 1), SSE_ERR_BAD_ID);
    assert_int_equal(sse_parser_set_last_id(&p, "\xE2\x82", 2), SSE_ERR_BAD_ID);
    assert_int_equal(sse_parser_set_last_id(&p, NULL, 1), SSE_ERR_ARG);
    assert_int_equal(sse_parser_set_last_id(NULL, "a", 1), SSE_ERR_ARG);
    assert_string_equal(sse_parser_last_id(&p, &n), "abc");
    /* only len bytes count: no NUL terminator needed */
    assert_int_equal(sse_parser_set_last_id(&p, "xyz", 2), SSE_OK);
    assert_string_equal(sse_parser_last_id(&p, &n), "xy");
    assert_int_equal(sse_last_id_header(&p, hdr, sizeof hdr, &n), SSE_OK);
    assert_string_equal(hdr, "Last-Event-ID: xy");
    assert_int_equal(sse_parser_set_last_id(&p, NULL, 0), SSE_OK);
    assert_string_equal(sse_parser_last_id(&p, &n), "");
    assert_int_equal(n, 0);
    assert_int_equal(sse_parser_set_last_id(&p, "q", 0), SSE_OK);
    assert_string_equal(sse_parser_last_id(&p, NULL), "");
    /* kept across reconnect and finish, like an id field's */
    assert_int_equal(sse_parser_set_last_id(&p, "k", 1), SSE_OK);
    assert_int_equal(sse_parser_reconnect(&p), SSE_OK);
    assert_int_equal(sse_parser_feed(&p, "data: x\n\n", 9, set_from_cb, &got), SSE_OK);
    assert_int_equal(got, SSE_ERR_ARG);
    assert_string_equal(sse_parser_last_id(&p, NULL), "k");
    /* with SSE_OPT_RAW, bytes as they are, as an id field's */
    {
        char raw_storage[64];
        sse_parser raw;
        assert_int_equal(sse_parser_init(&raw, raw_storage, sizeof raw_storage, SSE_OPT_RAW),
                         SSE_OK);
        assert_int_equal(sse_parser_set_last_id(&raw, "\xFF", 1), SSE_OK);
        assert_string_equal(sse_parser_last_id(&raw, NULL), "\xFF");
        assert_int_equal(sse_parser_set_last_id(&raw, "\xE2\x82\xAC", 3), SSE_OK);
    }
    assert_int_equal(sse_parser_set_last_id(&p, "\xE2\x82\xAC", 3), SSE_OK);
    assert_int_equal(sse_parser_set_last_id(&p, "k", 1), SSE_OK);
    /* from the callback: refused, nothing changed */
    probe.p = &p;
    probe.got = SSE_OK;
    assert_int_equal(sse_parser_feed(&p, "data: y\n\n", 9, set_busy_cb, &probe), SSE_OK);
    assert_int_equal(probe.got, SSE_ERR_BUSY);
    assert_string_equal(sse_parser_last_id(&p, NULL), "k");
}

/* "A line ended by CR is processed at once": no need to wait for the next byte. */
static void cr_ended_line_is_processed_at_once(void **state)
{
    (void)state;
    fixture *f = fx_new();
    fx_init(f, 256, 0);
    assert_int_equal(fx_feed(f, "data: a\r\r"), SSE_OK);
    fx_expect(f, MSG("a"));
    assert_int_equal(fx_feed(f, "retry: 5\r"), SSE_OK);
    fx_expect(f, RT(5, ""));
    assert_int_equal(fx_feed(f, "\n"), SSE_OK); /* the LF of that CR LF: no blank line */
    assert_int_equal(fx_feed(f, "id: 1\r"), SSE_OK);
    assert_int_equal(fx_feed(f, "\r"), SSE_OK);
    fx_expect(f, "");
    size_t n = 99;
    assert_string_equal(sse_parser_last_id(&f->p, &n), "1");
    assert_int_equal(n, 1);
    fx_free(f);
}

/* Reconnect: pending event and partial line dropped, BOM re-armed, last id and retry kept. */
static void reconnect_drops_pending_keeps_id_and_retry(void **state)
{
    (void)state;
    fixture *f = fx_new();
    fx_init(f, 256, 0);
    assert_int_equal(
        fx_feed(f, "\xEF\xBB\xBFid: 1\ndata: a\n\nretry: 50\nid: 2\nevent: t\ndata: partial\n"),
        SSE_OK);
    fx_expect(f, EV("message", "a", "1", "I") RT(50, "1"));
    assert_int_equal(sse_parser_reconnect(&f->p), SSE_OK);
    assert_int_equal(sse_parser_retry(&f->p), 50);
    assert_string_equal(sse_parser_last_id(&f->p, NULL), "1");
    assert_int_equal(fx_feed(f, "\xEF\xBB\xBF"
                                "data: b\n\n"),
                     SSE_OK);
    fx_expect(f, EV("message", "b", "1", "-"));
    fx_finish(f);
    fx_expect(f, END(OK, "1", 50));
    fx_free(f);
}

static void reconnect_drops_partial_line(void **state)
{
    (void)state;
    fixture *f = fx_new();
    fx_init(f, 256, 0);
    assert_int_equal(fx_feed(f, "data: abc"), SSE_OK);
    assert_int_equal(sse_parser_reconnect(&f->p), SSE_OK);
    assert_int_equal(fx_feed(f, "\n\ndata: x\n\n"), SSE_OK);
    fx_expect(f, MSG("x"));
    /* a partial UTF-8 sequence is dropped too */
    assert_int_equal(fx_feed(f, "data: \xE2\x82"), SSE_OK);
    assert_int_equal(sse_parser_reconnect(&f->p), SSE_OK);
    assert_int_equal(fx_feed(f, "data: y\n\n"), SSE_OK);
    fx_expect(f, MSG("y"));
    /* a partial BOM is dropped and the BOM re-armed */
    assert_int_equal(sse_parser_reconnect(&f->p), SSE_OK);
    assert_int_equal(fx_feed(f, "\xEF\xBB"), SSE_OK);
    assert_int_equal(sse_parser_reconnect(&f->p), SSE_OK);
    assert_int_equal(fx_feed(f, "\xEF\xBB\xBF"
                                "data: z\n\n"),
                     SSE_OK);
    fx_expect(f, MSG("z"));
    fx_finish(f);
    fx_expect(f, OK);
    fx_free(f);
}

static void reconnect_strips_only_one_bom(void **state)
{
    (void)state;
    fixture *f = fx_new();
    fx_init(f, 256, 0);
    assert_int_equal(fx_feed(f, "data: a\n\n"), SSE_OK);
    assert_int_equal(sse_parser_reconnect(&f->p), SSE_OK);
    assert_int_equal(fx_feed(f, "\xEF\xBB\xBF\xEF\xBB\xBF"
                                "data: 1\n\ndata: 2\n\n"),
                     SSE_OK);
    fx_expect(f, MSG("a") MSG("2"));
    fx_free(f);
}

/* finish leaves p ready for a new connection, as after reconnect. */
static void finish_then_new_connection(void **state)
{
    (void)state;
    fixture *f = fx_new();
    fx_init(f, 256, 0);
    assert_int_equal(fx_feed(f, "retry: 9\nid: 4\n\nid: 5\ndata: a"), SSE_OK);
    fx_finish(f);
    fx_expect(f, RT(9, "") END(TRUNCATED, "4", 9));
    assert_int_equal(fx_feed(f, "\xEF\xBB\xBF\n\ndata: b\n\n"), SSE_OK);
    fx_finish(f);
    fx_expect(f, EV("message", "b", "4", "-") END(OK, "4", 9));
    fx_free(f);
}

/* Reconnect in piece mode drops an event whose first pieces were delivered. */
static void pieces_reconnect_drops_open_event(void **state)
{
    (void)state;
    fixture *f = fx_new();
    fx_init(f, 64, SSE_OPT_PIECES);
    assert_int_equal(fx_feed(f, "data: "
                                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                "xxxxxxxxxxxxxxxxxxxx"),
                     SSE_OK);
    assert_int_equal(sse_parser_reconnect(&f->p), SSE_OK);
    f->r.open = 0; /* whatever was delivered is void */
    assert_int_equal(fx_feed(f, "data: y\n\n"), SSE_OK);
    fx_expect(f, MSG("y"));
    fx_free(f);
}

/* A small feed (up to 16 bytes: taken a byte at a time, without the scan) stops where
 * its callback asks, even on a record due inside a line, in piece mode: a comment's colon
 * sends the data gathered before it as a piece; a value that fills the storage goes out
 * as a piece. Nothing is parsed after the stop. */
static void small_feed_stops_inside_a_line(void **state)
{
    (void)state;
    fixture *f = fx_new();
    fx_init(f, 64, SSE_OPT_PIECES | SSE_OPT_COMMENTS);
    assert_int_equal(fx_feed(f, "\n"), SSE_OK); /* past the BOM check: no record */
    f->r.stop_at = 1;
    assert_int_equal(fx_feed(f, "data: ab\n:c\n\n"), SSE_ERR_STOPPED);
    assert_int_equal(f->r.records, 1);
    assert_int_equal(fx_feed(f, "\n"), SSE_ERR_STOPPED);
    assert_int_equal(f->r.records, 1);
    fx_free(f);

    f = fx_new();
    fx_init(f, 16, SSE_OPT_PIECES); /* 12 bytes of data storage */
    assert_int_equal(fx_feed(f, "\ndata:"), SSE_OK);
    f->r.stop_at = 1;
    assert_int_equal(fx_feed(f, "0123456789ABCDEF"), SSE_ERR_STOPPED);
    assert_int_equal(f->r.records, 1);
    assert_int_equal(fx_feed(f, "\n\n"), SSE_ERR_STOPPED);
    assert_int_equal(f->r.records, 1);
    fx_free(f);
}

/* A 1 MiB event through a 256-byte storage in piece mode; pieces arrive by the time each
 * feed returns; FIRST on the first piece only, LAST on the last only. */
typedef struct big {
    unsigned char *data;
    size_t len, cap;
    long pieces, firsts, lasts, dropped, events_done;
    sse_error last_error;
} big;

static int big_cb(void *user, const sse_event *ev)
{
    big *b = (big *)user;
    if (ev->kind == SSE_KIND_DROPPED) {
        b->dropped++;
        return 0;
    }
    if (ev->kind != SSE_KIND_EVENT)
        return 0;
    b->pieces++;
    if (ev->flags & SSE_FLAG_FIRST) {
        b->firsts++;
        if (b->pieces != 1)
            b->last_error = SSE_ERR_ARG;
    }
    if (ev->flags & SSE_FLAG_LAST)
        b->lasts++;
    if (b->len + ev->data_len > b->cap) {
        b->last_error = SSE_ERR_DATA_TOO_LONG;
        return 0;
    }
    if (ev->data_len)
        memcpy(b->data + b->len, ev->data, ev->data_len);
    b->len += ev->data_len;
    return 0;
}

static void pieces_one_mebibyte_event_through_256_byte_storage(void **state)
{
    (void)state;
    const size_t total = (size_t)1 << 20, line = 1000;
    /* expected data: lines of 999 varied bytes joined by LF, some invalid UTF-8-free */
    unsigned char *want = (unsigned char *)malloc(total);
    assert_non_null(want);
    for (size_t i = 0; i < total; i++)
        want[i] = (i % line == line - 1) ? '\n' : (unsigned char)('a' + (i * 7) % 26);
    want[total - 1] = 'z'; /* no trailing LF in the data */
    /* the stream: one "data: " line per line of want */
    size_t cap_in = total + (total / line + 2) * 8 + 16, n = 0;
    unsigned char *in = (unsigned char *)malloc(cap_in);
    assert_non_null(in);
    size_t start = 0;
    for (size_t i = 0; i <= total; i++) {
        if (i == total || want[i] == '\n') {
            memcpy(in + n, "data: ", 6);
            n += 6;
            memcpy(in + n, want + start, i - start);
            n += i - start;
            in[n++] = '\n';
            start = i + 1;
        }
    }
    in[n++] = '\n';
    static const size_t chunks[] = { 4096, 1000, 7 };
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        char storage[256];
        sse_parser p;
        big b;
        memset(&b, 0, sizeof b);
        b.cap = total;
        b.data = (unsigned char *)malloc(total);
        assert_non_null(b.data);
        assert_int_equal(sse_parser_init(&p, storage, sizeof storage, SSE_OPT_PIECES), SSE_OK);
        for (size_t off = 0; off < n; off += chunks[c]) {
            size_t k = n - off < chunks[c] ? n - off : chunks[c];
            assert_int_equal(sse_parser_feed(&p, in + off, k, big_cb, &b), SSE_OK);
            /* data bytes that must have arrived by now: every complete line's 999 bytes,
             * the LFs joining them (the LF after the last complete line may wait for
             * the next data line) and the bytes of the current line so far */
            size_t end = off + k, per = 6 + (line - 1) + 1; /* "data: " 999 bytes LF */
            size_t full = end / per, rem = end % per;
            size_t payload = full ? full * line - 1 : 0;
            if (rem > 6)
                payload += (full ? 1 : 0) + rem - 6;
            if (payload > total)
                payload = total;
            if (end < n - 2 && b.len < payload) {
                print_error("chunk %zu: after %zu input bytes only %zu of %zu data bytes "
                            "delivered\n",
                            chunks[c], end, b.len, payload);
                fail();
            }
        }
        assert_int_equal(sse_parser_finish(&p, big_cb, &b), SSE_OK);
        assert_int_equal(b.last_error, SSE_OK);
        assert_int_equal(b.dropped, 0);
        assert_int_equal(b.firsts, 1);
        assert_int_equal(b.lasts, 1);
        assert_true(b.pieces > 1);
        assert_int_equal(b.len, total);
        assert_memory_equal(b.data, want, total);
        free(b.data);
    }
    free(in);
    free(want);
}

/* ---- a reference model of the spec, against random hostile streams -------------------- */

/* WHATWG UTF-8 decode of s[0..n) into out, U+FFFD per maximal ill-formed subpart. */
static void model_repair(strbuf *out, const unsigned char *s, size_t n)
{
    size_t need = 0, seen = 0;
    unsigned lower = 0x80, upper = 0xBF;
    unsigned char seq[4];
    for (size_t i = 0; i < n; i++) {
        unsigned b = s[i];
        if (need == 0) {
            if (b <= 0x7F) {
                sb_add(out, s + i, 1);
            } else if (b >= 0xC2 && b <= 0xDF) {
                need = 1;
            } else if (b >= 0xE0 && b <= 0xEF) {
                lower = b == 0xE0 ? 0xA0 : 0x80;
                upper = b == 0xED ? 0x9F : 0xBF;
                need = 2;
            } else if (b >= 0xF0 && b <= 0xF4) {
                lower = b == 0xF0 ? 0x90 : 0x80;
                upper = b == 0xF4 ? 0x8F : 0xBF;
                need = 3;
            } else {
                sb_add(out, "\xEF\xBF\xBD", 3);
            }
            if (need) {
                seq[0] = (unsigned char)b;
                seen = 0;
            }
            continue;
        }
        if (b < lower || b > upper) {
            need = seen = 0;
            lower = 0x80;
            upper = 0xBF;
            sb_add(out, "\xEF\xBF\xBD", 3);
            i--; /* the byte is processed again */
            continue;
        }
        lower = 0x80;
        upper = 0xBF;
        seq[++seen] = (unsigned char)b;
        if (seen == need) {
            sb_add(out, seq, need + 1);
            need = seen = 0;
        }
    }
    if (need)
        sb_add(out, "\xEF\xBF\xBD", 3);
}

typedef struct model {
    unsigned opt;
    strbuf log, data, type, idbuf, last, line;
    int has_data, has_type, has_id, pending;
    uint64_t retry;
} model;

static void model_dispatch(model *m)
{
    sb_reset(&m->last);
    sb_add(&m->last, m->idbuf.s, m->idbuf.len);
    if (m->has_data) {
        sb_puts(&m->log, "EVENT t=");
        if (m->type.len)
            sb_escaped(&m->log, m->type.s, m->type.len);
        else
            sb_puts(&m->log, "\"message\"");
        sb_puts(&m->log, " d=");
        sb_escaped(&m->log, m->data.s, m->data.len ? m->data.len - 1 : 0);
        sb_puts(&m->log, " id=");
        sb_escaped(&m->log, m->last.s, m->last.len);
        sb_puts(&m->log, m->has_id ? " f=I\n" : " f=-\n");
    }
    sb_reset(&m->data);
    sb_reset(&m->type);
    m->has_data = m->has_type = m->has_id = m->pending = 0;
}

static void model_line(model *m, const unsigned char *raw, size_t rn)
{
    strbuf *l = &m->line;
    sb_reset(l);
    if (m->opt & SSE_OPT_RAW)
        sb_add(l, raw, rn);
    else
        model_repair(l, raw, rn);
    const char *s = l->s;
    size_t n = l->len;
    if (n == 0) {
        model_dispatch(m);
        return;
    }
    const char *colon = (const char *)memchr(s, ':', n);
    size_t nn = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vn = (size_t)(s + n - v);
    if (vn && *v == ' ') {
        v++;
        vn--;
    }
    if (nn == 0) {
        if (m->opt & SSE_OPT_COMMENTS) {
            sb_puts(&m->log, "COMMENT d=");
            sb_escaped(&m->log, v, vn);
            sb_puts(&m->log, " id=");
            sb_escaped(&m->log, m->last.s, m->last.len);
            sb_puts(&m->log, "\n");
        }
    } else if (nn == 4 && memcmp(s, "data", 4) == 0) {
        sb_add(&m->data, v, vn);
        sb_add(&m->data, "\n", 1);
        m->has_data = m->pending = 1;
    } else if (nn == 5 && memcmp(s, "event", 5) == 0) {
        sb_reset(&m->type);
        sb_add(&m->type, v, vn);
        m->pending = 1;
    } else if (nn == 2 && memcmp(s, "id", 2) == 0) {
        if (!memchr(v, '\0', vn)) {
            sb_reset(&m->idbuf);
            sb_add(&m->idbuf, v, vn);
            m->has_id = m->pending = 1;
        }
    } else if (nn == 5 && memcmp(s, "retry", 5) == 0) {
        uint64_t x = 0;
        int ok = vn > 0;
        for (size_t i = 0; i < vn && ok; i++) {
            unsigned d = (unsigned)(unsigned char)v[i] - '0';
            if (d > 9 || x > (UINT64_MAX - d) / 10)
                ok = 0;
            else
                x = x * 10 + d;
        }
        if (ok) {
            m->retry = x;
            sb_printf(&m->log, "RETRY %llu id=", (unsigned long long)x);
            sb_escaped(&m->log, m->last.s, m->last.len);
            sb_puts(&m->log, "\n");
        }
    }
}

/* The whole stream through the model: the log the recorder should print. */
static void model_run(strbuf *out, const unsigned char *in, size_t n, unsigned opt)
{
    model m;
    memset(&m, 0, sizeof m);
    m.opt = opt;
    m.retry = SSE_RETRY_DEFAULT;
    strbuf *bufs[] = { &m.log, &m.data, &m.type, &m.idbuf, &m.last, &m.line };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        sb_add(bufs[i], "", 0);
    size_t i = 0, start;
    if (n >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    start = i;
    for (; i < n; i++) {
        if (in[i] == '\r' || in[i] == '\n') {
            model_line(&m, in + start, i - start);
            if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
                i++;
            start = i + 1;
        }
    }
    int partial = start < n;
    sse_error st = SSE_OK;
    if (opt & SSE_OPT_DISPATCH_AT_EOF) {
        if (partial)
            model_line(&m, in + start, n - start);
        if (m.pending)
            model_dispatch(&m);
    } else if (partial || m.pending) {
        st = SSE_ERR_TRUNCATED;
    }
    const char *t = sse_strerror(st);
    sb_puts(&m.log, "END ");
    sb_escaped(&m.log, t, strlen(t));
    sb_puts(&m.log, " last=");
    sb_escaped(&m.log, m.last.s, m.last.len);
    sb_printf(&m.log, " retry=%llu\n", (unsigned long long)m.retry);
    sb_reset(out);
    sb_add(out, m.log.s, m.log.len);
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++)
        sb_free(bufs[k]);
}

static uint64_t model_rng_state = 0x2545F4914F6CDD1Dull;

static size_t model_rnd(size_t n)
{
    model_rng_state ^= model_rng_state >> 12;
    model_rng_state ^= model_rng_state << 25;
    model_rng_state ^= model_rng_state >> 27;
    return (size_t)((model_rng_state * 0x2545F4914F6CDD1Dull) >> 33) % n;
}

static void model_random_streams(void **state)
{
    (void)state;
    static const char *const tokens[] = {
        "data",
        "data:",
        "data: ",
        "event",
        "event:",
        "event: ",
        "id",
        "id:",
        "id: ",
        "retry:",
        "retry: ",
        ":",
        ": ",
        " ",
        "\n",
        "\n",
        "\n",
        "\r",
        "\r\n",
        "\n\n",
        "x",
        "yz",
        "7",
        "123",
        "18446744073709551615",
        "18446744073709551616",
        "\xEF\xBB\xBF",
        "\xEF\xBB",
        "\xFF",
        "\xC3",
        "\xA9",
        "\xE2\x82",
        "\xAC",
        "\xED\xA0\x80",
        "\xF0\x9F\x98\x80",
        "\xF4\x90",
        "\xE0\x80",
        "Data",
        "\t",
        "message",
        "\x80",
        "\0",
        "id: 1\0",
        "retry: 5",
        "retry: 18446744073709551616\n",
        "retry: 99999999999999999999\n",
        "data: d\n\n",
    };
    static const unsigned opts[] = { 0,
                                     SSE_OPT_RAW,
                                     SSE_OPT_COMMENTS,
                                     SSE_OPT_DISPATCH_AT_EOF,
                                     SSE_OPT_PIECES,
                                     SSE_OPT_RAW | SSE_OPT_COMMENTS,
                                     SSE_OPT_PIECES | SSE_OPT_DISPATCH_AT_EOF };
    strbuf in = { 0 }, want = { 0 }, got = { 0 };
    for (int k = 0; k < 4000; k++) {
        sb_reset(&in);
        sb_add(&in, "", 0);
        size_t ntok = model_rnd(24);
        for (size_t t = 0; t < ntok; t++) {
            const char *tok = tokens[model_rnd(sizeof tokens / sizeof tokens[0])];
            sb_add(&in, tok, strlen(tok));
            if (model_rnd(8) == 0)
                sb_add(&in, "\0", 1);
        }
        unsigned opt = opts[model_rnd(sizeof opts / sizeof opts[0])];
        model_run(&want, (const unsigned char *)in.s, in.len, opt);
        const unsigned char *bytes = (const unsigned char *)in.s;
        size_t a = model_rnd(in.len + 1), b = model_rnd(in.len + 1);
        if (b < a) {
            size_t x = a;
            a = b;
            b = x;
        }
        for (int mode = SPLIT_WHOLE; mode <= SPLIT_TWO; mode++) {
            run_split(opt, 1 << 16, bytes, in.len, mode, a, b, &got, NULL);
            if (strcmp(sb_str(&want), sb_str(&got)) != 0) {
                char split[64];
                strbuf esc = { 0 };
                sb_escaped(&esc, in.s, in.len);
                describe_split(split, sizeof split, mode, a, b);
                print_error(
                    "stream %d, options %u, %s\ninput: %s\n--- model\n%s--- parser\n%s---\n", k,
                    opt, split, sb_str(&esc), sb_str(&want), sb_str(&got));
                sb_free(&esc);
                fail();
            }
        }
    }
    sb_free(&in);
    sb_free(&want);
    sb_free(&got);
}

/* Every row twice at most (its piece-mode twin), then the tests that are not rows. The
 * array has its size at compile time; entries left zero are not tests (cmocka skips
 * them), so cmocka_run_group_tests_name takes it as it is. */
#define NROWS (sizeof rows / sizeof rows[0])
static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(set_last_id_keeps_bom_stripping),
        cmocka_unit_test(set_last_id_leaves_pending_block),
        cmocka_unit_test(set_last_id_rules),
        cmocka_unit_test(cr_ended_line_is_processed_at_once),
        cmocka_unit_test(reconnect_drops_pending_keeps_id_and_retry),
        cmocka_unit_test(reconnect_drops_partial_line),
        cmocka_unit_test(reconnect_strips_only_one_bom),
        cmocka_unit_test(finish_then_new_connection),
        cmocka_unit_test(pieces_reconnect_drops_open_event),
        cmocka_unit_test(small_feed_stops_inside_a_line),
        cmocka_unit_test(pieces_one_mebibyte_event_through_256_byte_storage),
        cmocka_unit_test(model_random_streams),
    };
#define NFIXED (sizeof fixed / sizeof fixed[0])
static tcase cases[2 * NROWS];
static struct CMUnitTest tests[2 * NROWS + NFIXED];

int main(int argc, char **argv)
{
    size_t nc = 0, nt = 0;
    for (size_t i = 0; i < NROWS; i++) {
        for (int twin = 0; twin < 2; twin++) {
            if (twin && ((rows[i].opt & SSE_OPT_PIECES) || (rows[i].x & X_NOPIECE)))
                continue;
            tcase *c = &cases[nc++];
            c->r = &rows[i];
            c->opt = rows[i].opt | (twin ? SSE_OPT_PIECES : 0u);
            snprintf(c->name, sizeof c->name, "%s%s", rows[i].name, twin ? "__pieces" : "");
            tests[nt].name = c->name;
            tests[nt].test_func = run_case;
            tests[nt].initial_state = c;
            nt++;
        }
    }
    for (size_t i = 0; i < NFIXED; i++)
        tests[nt++] = fixed[i];
    test_filter_from_args(argc, argv);
    return cmocka_run_group_tests_name("parser", tests, NULL, NULL);
}
