#include "capture/analyzer.hpp"
#include "capture/sql_shape.hpp"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace sqltap::capture {
namespace {

using node = PgQuery__Node;

std::string str_or_empty(const char* s) { return s ? std::string(s) : std::string(); }

void add_target(statement& s, const PgQuery__RangeVar* rv) {
    if (!rv || !rv->relname) return;
    table_name t{str_or_empty(rv->schemaname), rv->relname};
    for (const auto& existing : s.targets)
        if (existing == t) return;
    s.targets.push_back(std::move(t));
}

void scan_with(statement& s, const PgQuery__WithClause* w);

// A data-modifying statement nested in a WITH (or the top-level one).
bool scan_write(statement& s, const node* n) {
    if (!n) return false;
    switch (n->node_case) {
        case PG_QUERY__NODE__NODE_INSERT_STMT:
            add_target(s, n->insert_stmt->relation);
            scan_with(s, n->insert_stmt->with_clause);
            return true;
        case PG_QUERY__NODE__NODE_UPDATE_STMT:
            add_target(s, n->update_stmt->relation);
            scan_with(s, n->update_stmt->with_clause);
            return true;
        case PG_QUERY__NODE__NODE_DELETE_STMT:
            add_target(s, n->delete_stmt->relation);
            scan_with(s, n->delete_stmt->with_clause);
            return true;
        case PG_QUERY__NODE__NODE_MERGE_STMT:
            add_target(s, n->merge_stmt->relation);
            scan_with(s, n->merge_stmt->with_clause);
            return true;
        case PG_QUERY__NODE__NODE_SELECT_STMT: {
            const PgQuery__SelectStmt* sel = n->select_stmt;
            scan_with(s, sel->with_clause);
            // Set operations keep their arms in larg/rarg.
            if (sel->larg) {
                node l{};
                l.node_case = PG_QUERY__NODE__NODE_SELECT_STMT;
                l.select_stmt = sel->larg;
                scan_write(s, &l);
            }
            if (sel->rarg) {
                node r{};
                r.node_case = PG_QUERY__NODE__NODE_SELECT_STMT;
                r.select_stmt = sel->rarg;
                scan_write(s, &r);
            }
            return false;
        }
        default: return false;
    }
}

void scan_with(statement& s, const PgQuery__WithClause* w) {
    if (!w) return;
    for (std::size_t i = 0; i < w->n_ctes; ++i) {
        const node* c = w->ctes[i];
        if (!c || c->node_case != PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR) continue;
        if (scan_write(s, c->common_table_expr->ctequery)) s.modifying_cte = true;
    }
}

bool option_is_on(const node* arg) {
    if (!arg) return true;  // EXPLAIN ANALYZE, EXPLAIN (ANALYZE)
    if (arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN) return arg->boolean->boolval;
    if (arg->node_case == PG_QUERY__NODE__NODE_STRING && arg->string->sval) {
        std::string v = arg->string->sval;
        return !(v == "false" || v == "off" || v == "0" || v == "no");
    }
    if (arg->node_case == PG_QUERY__NODE__NODE_INTEGER) return arg->integer->ival != 0;
    return true;
}

statement classify(const node* n);

// Fields under which a number literal does not always mean its value, or
// whose meaning the planner reads from constants (see statement::value_literals).
bool literal_context_banned(const char* field) {
    static constexpr const char* banned[] = {"sort_clause", "group_clause", "distinct_clause", "window_clause",
                                             "over",        "agg_order",    "type_name",       "typmods",
                                             "on_conflict_clause"};
    for (const char* b : banned)
        if (std::strcmp(field, b) == 0) return true;
    return false;
}

// The number literals of a parse tree outside the banned fields: where they
// start, and their value as the parser read it. Walks every message field
// of the tree through protobuf-c's descriptors.
void collect_literals(const ProtobufCMessage* m, std::vector<std::pair<std::size_t, std::string>>& out) {
    const ProtobufCMessageDescriptor* d = m->descriptor;
    if (d == &pg_query__a__const__descriptor) {
        const auto* c = reinterpret_cast<const PgQuery__AConst*>(m);
        if (c->isnull || c->location < 0) return;
        if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL && c->ival)
            out.emplace_back(std::size_t(c->location), std::to_string(c->ival->ival));
        else if (c->val_case == PG_QUERY__A__CONST__VAL_FVAL && c->fval && c->fval->fval)
            out.emplace_back(std::size_t(c->location), c->fval->fval);
        return;
    }
    const char* base = reinterpret_cast<const char*>(m);
    if (d == &pg_query__node__descriptor) {  // a oneof of ~250 kinds: straight to the one it holds
        const auto* n = reinterpret_cast<const PgQuery__Node*>(m);
        const ProtobufCFieldDescriptor* f = protobuf_c_message_descriptor_get_field(d, unsigned(n->node_case));
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED)
            if (auto* sub = *reinterpret_cast<ProtobufCMessage* const*>(base + f->offset)) collect_literals(sub, out);
        return;
    }
    for (unsigned i = 0; i < d->n_fields; ++i) {
        const ProtobufCFieldDescriptor& f = d->fields[i];
        if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if ((f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *reinterpret_cast<const std::uint32_t*>(base + f.quantifier_offset) != f.id)
            continue;
        if (literal_context_banned(f.name)) continue;
        if (f.label == PROTOBUF_C_LABEL_REPEATED) {
            std::size_t n = *reinterpret_cast<const std::size_t*>(base + f.quantifier_offset);
            auto* items = *reinterpret_cast<ProtobufCMessage* const* const*>(base + f.offset);
            for (std::size_t k = 0; k < n; ++k)
                if (items[k]) collect_literals(items[k], out);
        } else if (auto* sub = *reinterpret_cast<ProtobufCMessage* const*>(base + f.offset)) {
            collect_literals(sub, out);
        }
    }
}

statement classify_transaction(const PgQuery__TransactionStmt* t) {
    statement s;
    s.chain = t->chain;
    switch (t->kind) {
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START: s.kind = statement_kind::begin; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT: s.kind = statement_kind::commit; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK: s.kind = statement_kind::rollback; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
            s.kind = statement_kind::savepoint;
            s.name = str_or_empty(t->savepoint_name);
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
            s.kind = statement_kind::release;
            s.name = str_or_empty(t->savepoint_name);
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
            s.kind = statement_kind::rollback_to;
            s.name = str_or_empty(t->savepoint_name);
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
            s.kind = statement_kind::prepare_transaction;
            s.name = str_or_empty(t->gid);
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
            s.kind = statement_kind::commit_prepared;
            s.name = str_or_empty(t->gid);
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
            s.kind = statement_kind::rollback_prepared;
            s.name = str_or_empty(t->gid);
            break;
        default: s.kind = statement_kind::other; break;
    }
    return s;
}

std::string alias_of(const PgQuery__RangeVar* rv) {
    return rv && rv->alias && rv->alias->aliasname ? std::string(rv->alias->aliasname) : std::string();
}

// The columns a RETURNING list yields, or statement::npos when an item holds
// a "*" (t.*, (x).*): each other item is one column.
std::size_t returning_columns(node* const* list, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const node* t = list[i];
        if (!t || t->node_case != PG_QUERY__NODE__NODE_RES_TARGET || !t->res_target->val) return statement::npos;
        const node* v = t->res_target->val;
        if (v->node_case == PG_QUERY__NODE__NODE_COLUMN_REF) {
            const auto* c = v->column_ref;
            if (c->n_fields > 0 && c->fields[c->n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR)
                return statement::npos;
        } else if (v->node_case == PG_QUERY__NODE__NODE_A_INDIRECTION) {
            const auto* ind = v->a_indirection;
            if (ind->n_indirection > 0 &&
                ind->indirection[ind->n_indirection - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR)
                return statement::npos;
        }
    }
    return n;
}

statement classify(const node* n) {
    statement s;
    if (!n) return s;
    switch (n->node_case) {
        case PG_QUERY__NODE__NODE_INSERT_STMT:
            s.kind = statement_kind::insert;
            s.has_returning = n->insert_stmt->n_returning_list > 0;
            s.returning_columns = returning_columns(n->insert_stmt->returning_list, n->insert_stmt->n_returning_list);
            s.on_conflict = n->insert_stmt->on_conflict_clause != nullptr;
            if (s.on_conflict) {  // DO UPDATE SET …: the columns it assigns
                const auto* oc = n->insert_stmt->on_conflict_clause;
                for (std::size_t i = 0; i < oc->n_target_list; ++i) {
                    const node* t = oc->target_list[i];
                    if (t && t->node_case == PG_QUERY__NODE__NODE_RES_TARGET && t->res_target->name)
                        s.set_columns.emplace_back(t->res_target->name);
                }
            }
            s.target_alias = alias_of(n->insert_stmt->relation);
            scan_write(s, n);
            scan_write(s, n->insert_stmt->select_stmt);
            break;
        case PG_QUERY__NODE__NODE_UPDATE_STMT:
            s.kind = statement_kind::update;
            s.has_returning = n->update_stmt->n_returning_list > 0;
            s.returning_columns = returning_columns(n->update_stmt->returning_list, n->update_stmt->n_returning_list);
            s.target_alias = alias_of(n->update_stmt->relation);
            for (std::size_t i = 0; i < n->update_stmt->n_target_list; ++i) {
                const node* t = n->update_stmt->target_list[i];
                if (t && t->node_case == PG_QUERY__NODE__NODE_RES_TARGET && t->res_target->name)
                    s.set_columns.emplace_back(t->res_target->name);
            }
            for (std::size_t i = 0; i < n->update_stmt->n_returning_list; ++i) {
                const node* t = n->update_stmt->returning_list[i];
                if (!t || t->node_case != PG_QUERY__NODE__NODE_RES_TARGET || !t->res_target->val) continue;
                const node* v = t->res_target->val;
                if (v->node_case == PG_QUERY__NODE__NODE_COLUMN_REF && v->column_ref->n_fields == 1 &&
                    v->column_ref->fields[0]->node_case == PG_QUERY__NODE__NODE_A_STAR)
                    s.returning_stars.push_back(static_cast<std::size_t>(v->column_ref->location));
            }
            s.other_relations = n->update_stmt->n_from_clause > 0;
            s.update_from = n->update_stmt->n_from_clause > 0 ||
                            (n->update_stmt->where_clause &&
                             n->update_stmt->where_clause->node_case == PG_QUERY__NODE__NODE_CURRENT_OF_EXPR);
            scan_write(s, n);
            break;
        case PG_QUERY__NODE__NODE_DELETE_STMT:
            s.kind = statement_kind::del;
            s.has_returning = n->delete_stmt->n_returning_list > 0;
            s.returning_columns = returning_columns(n->delete_stmt->returning_list, n->delete_stmt->n_returning_list);
            s.other_relations = n->delete_stmt->n_using_clause > 0;
            s.target_alias = alias_of(n->delete_stmt->relation);
            scan_write(s, n);
            break;
        case PG_QUERY__NODE__NODE_MERGE_STMT:
            s.kind = statement_kind::merge;
            scan_write(s, n);
            break;
        case PG_QUERY__NODE__NODE_SELECT_STMT:
            s.kind = statement_kind::read;
            if (n->select_stmt->into_clause) {
                s.kind = statement_kind::ddl;  // SELECT INTO creates a table
                add_target(s, n->select_stmt->into_clause->rel);
            }
            scan_write(s, n);
            break;
        case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
            s.kind = statement_kind::truncate;
            for (std::size_t i = 0; i < n->truncate_stmt->n_relations; ++i) {
                const node* r = n->truncate_stmt->relations[i];
                if (r && r->node_case == PG_QUERY__NODE__NODE_RANGE_VAR) add_target(s, r->range_var);
            }
            break;
        case PG_QUERY__NODE__NODE_COPY_STMT: {
            const PgQuery__CopyStmt* c = n->copy_stmt;
            s.kind = c->is_from ? statement_kind::copy_from : statement_kind::copy_to;
            if (c->is_from) {
                add_target(s, c->relation);
                if (c->relation) s.target_location = static_cast<std::size_t>(c->relation->location);
            }
            if (c->query && scan_write(s, c->query)) s.modifying_cte = true;  // COPY (DELETE … RETURNING) TO
            break;
        }
        case PG_QUERY__NODE__NODE_TRANSACTION_STMT: s = classify_transaction(n->transaction_stmt); break;
        case PG_QUERY__NODE__NODE_EXPLAIN_STMT: {
            bool analyze = false;
            for (std::size_t i = 0; i < n->explain_stmt->n_options; ++i) {
                const node* o = n->explain_stmt->options[i];
                if (o && o->node_case == PG_QUERY__NODE__NODE_DEF_ELEM && o->def_elem->defname &&
                    std::strcmp(o->def_elem->defname, "analyze") == 0)
                    analyze = option_is_on(o->def_elem->arg);
            }
            auto inner = std::make_shared<statement>(classify(n->explain_stmt->query));
            s.kind = analyze ? statement_kind::explain_analyze : statement_kind::read;
            if (analyze) {
                s.targets = inner->targets;
                s.modifying_cte = inner->modifying_cte;
                s.inner = std::move(inner);
            }
            break;
        }
        case PG_QUERY__NODE__NODE_PREPARE_STMT: {
            s.kind = statement_kind::prepare_sql;
            s.name = str_or_empty(n->prepare_stmt->name);
            s.inner = std::make_shared<statement>(classify(n->prepare_stmt->query));
            break;
        }
        case PG_QUERY__NODE__NODE_EXECUTE_STMT:
            s.kind = statement_kind::execute_sql;
            s.name = str_or_empty(n->execute_stmt->name);
            break;
        case PG_QUERY__NODE__NODE_CALL_STMT: s.kind = statement_kind::call; break;
        case PG_QUERY__NODE__NODE_DO_STMT: s.kind = statement_kind::do_block; break;
        case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
        case PG_QUERY__NODE__NODE_FETCH_STMT:
        case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
        case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT: s.kind = statement_kind::read; break;
        case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        case PG_QUERY__NODE__NODE_DISCARD_STMT:
        case PG_QUERY__NODE__NODE_LISTEN_STMT:
        case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
        case PG_QUERY__NODE__NODE_NOTIFY_STMT:
        case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
        case PG_QUERY__NODE__NODE_LOCK_STMT:
        case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT:
        case PG_QUERY__NODE__NODE_LOAD_STMT: s.kind = statement_kind::session; break;
        case PG_QUERY__NODE__NODE_VACUUM_STMT:
        case PG_QUERY__NODE__NODE_CHECK_POINT_STMT:
        case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT:
        case PG_QUERY__NODE__NODE_CLUSTER_STMT:
        case PG_QUERY__NODE__NODE_REINDEX_STMT: s.kind = statement_kind::other; break;
        case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
            s.kind = statement_kind::ddl;
            add_target(s, n->alter_table_stmt->relation);
            break;
        case PG_QUERY__NODE__NODE_RENAME_STMT:
            s.kind = statement_kind::ddl;
            add_target(s, n->rename_stmt->relation);
            break;
        case PG_QUERY__NODE__NODE_CREATE_STMT:
            s.kind = statement_kind::ddl;
            add_target(s, n->create_stmt->relation);
            break;
        case PG_QUERY__NODE__NODE_INDEX_STMT:
            s.kind = statement_kind::ddl;
            add_target(s, n->index_stmt->relation);
            break;
        case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
            s.kind = statement_kind::ddl;
            if (n->create_table_as_stmt->into) add_target(s, n->create_table_as_stmt->into->rel);
            break;
        case PG_QUERY__NODE__NODE_DROP_STMT: {
            s.kind = statement_kind::ddl;
            const PgQuery__DropStmt* d = n->drop_stmt;
            if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) break;
            for (std::size_t i = 0; i < d->n_objects; ++i) {
                const node* o = d->objects[i];
                if (!o || o->node_case != PG_QUERY__NODE__NODE_LIST) continue;
                std::vector<std::string> parts;
                for (std::size_t j = 0; j < o->list->n_items; ++j) {
                    const node* p = o->list->items[j];
                    if (p && p->node_case == PG_QUERY__NODE__NODE_STRING) parts.push_back(str_or_empty(p->string->sval));
                }
                if (parts.size() == 1) s.targets.push_back({"", parts[0]});
                else if (parts.size() >= 2) s.targets.push_back({parts[parts.size() - 2], parts.back()});
            }
            break;
        }
        default:
            // Every other utility statement changes the catalog.
            s.kind = statement_kind::ddl;
            break;
    }
    return s;
}


}  // namespace

const char* to_string(statement_kind k) noexcept {
    switch (k) {
        case statement_kind::empty: return "empty";
        case statement_kind::read: return "read";
        case statement_kind::insert: return "insert";
        case statement_kind::update: return "update";
        case statement_kind::del: return "delete";
        case statement_kind::merge: return "merge";
        case statement_kind::truncate: return "truncate";
        case statement_kind::copy_from: return "copy_from";
        case statement_kind::copy_to: return "copy_to";
        case statement_kind::ddl: return "ddl";
        case statement_kind::begin: return "begin";
        case statement_kind::commit: return "commit";
        case statement_kind::rollback: return "rollback";
        case statement_kind::savepoint: return "savepoint";
        case statement_kind::release: return "release";
        case statement_kind::rollback_to: return "rollback_to";
        case statement_kind::prepare_transaction: return "prepare_transaction";
        case statement_kind::commit_prepared: return "commit_prepared";
        case statement_kind::rollback_prepared: return "rollback_prepared";
        case statement_kind::session: return "session";
        case statement_kind::call: return "call";
        case statement_kind::do_block: return "do_block";
        case statement_kind::explain_analyze: return "explain_analyze";
        case statement_kind::prepare_sql: return "prepare_sql";
        case statement_kind::execute_sql: return "execute_sql";
        case statement_kind::other: return "other";
    }
    return "?";
}

bool statement::may_write() const noexcept {
    switch (kind) {
        case statement_kind::insert:
        case statement_kind::update:
        case statement_kind::del:
        case statement_kind::merge:
        case statement_kind::truncate:
        case statement_kind::copy_from:
        case statement_kind::ddl:
        case statement_kind::call:
        case statement_kind::do_block:
        case statement_kind::execute_sql: return true;
        case statement_kind::explain_analyze:
        case statement_kind::prepare_sql: return inner && inner->may_write();
        default: return modifying_cte;
    }
}

analysis analyze(std::string_view sql) {
    analysis out;
    std::string text(sql);  // the parser wants a NUL-terminated string
    PgQueryProtobufParseResult r = pg_query_parse_protobuf(text.c_str());
    if (r.error) {
        out.ok = false;
        out.error = r.error->message ? r.error->message : "syntax error";
        pg_query_free_protobuf_parse_result(r);
        return out;
    }
    PgQuery__ParseResult* tree = pg_query__parse_result__unpack(
        nullptr, r.parse_tree.len, reinterpret_cast<const uint8_t*>(r.parse_tree.data));
    pg_query_free_protobuf_parse_result(r);
    if (!tree) {
        out.ok = false;
        out.error = "cannot unpack the parse tree";
        return out;
    }
    for (std::size_t i = 0; i < tree->n_stmts; ++i) {
        const PgQuery__RawStmt* raw = tree->stmts[i];
        statement s = classify(raw->stmt);
        s.location = static_cast<std::size_t>(raw->stmt_location);
        s.length = raw->stmt_len > 0 ? static_cast<std::size_t>(raw->stmt_len) : sql.size() - s.location;
        if (s.target_location != statement::npos) s.target_location -= s.location;
        for (auto& star : s.returning_stars) star -= s.location;
        s.calls_functions = may_call_functions(sql.substr(std::min(s.location, sql.size()), s.length));
        if (s.kind == statement_kind::insert || s.kind == statement_kind::update || s.kind == statement_kind::del) {
            std::vector<std::pair<std::size_t, std::string>> found;
            collect_literals(&raw->stmt->base, found);
            // Only where the text holds the value the parser read.
            for (const auto& [at, value] : found) {
                auto lit = number_literal_at(sql, at);
                if (lit && lit->value == value && at >= s.location && at + lit->length <= s.location + s.length)
                    s.value_literals.push_back(at - s.location);
            }
            std::sort(s.value_literals.begin(), s.value_literals.end());
        }
        out.statements.push_back(std::move(s));
    }
    pg_query__parse_result__free_unpacked(tree, nullptr);
    return out;
}

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

std::size_t skip_blank(std::string_view s, std::size_t i) noexcept {
    while (i < s.size()) {
        if (is_space(s[i])) {
            ++i;
        } else if (s.compare(i, 2, "--") == 0) {
            // PostgreSQL's lexer ends a line comment at either newline byte.
            while (i < s.size() && s[i] != '\n' && s[i] != '\r') ++i;
        } else if (s.compare(i, 2, "/*") == 0) {
            int depth = 1;
            i += 2;
            while (i < s.size() && depth > 0) {
                if (s.compare(i, 2, "/*") == 0) {
                    ++depth;
                    i += 2;
                } else if (s.compare(i, 2, "*/") == 0) {
                    --depth;
                    i += 2;
                } else {
                    ++i;
                }
            }
        } else {
            break;
        }
    }
    return i;
}

bool certainly_read_only(std::string_view sql) noexcept {
    std::size_t i = skip_blank(sql, 0);
    std::string_view rest = sql.substr(i);
    auto starts_ci = [&](std::string_view word) {
        if (rest.size() < word.size()) return false;
        for (std::size_t k = 0; k < word.size(); ++k)
            if (std::toupper(static_cast<unsigned char>(rest[k])) != word[k]) return false;
        return rest.size() == word.size() || !(std::isalnum(static_cast<unsigned char>(rest[word.size()])) ||
                                               rest[word.size()] == '_');
    };
    if (!starts_ci("SELECT")) return false;
    // One statement only: a ';' may end it, followed by nothing but blanks.
    auto semi = sql.find(';');
    if (semi != std::string_view::npos && skip_blank(sql, semi + 1) != sql.size()) return false;
    // None of these words anywhere (inside literals and names too): one pass.
    static constexpr std::string_view words[] = {"insert", "update", "delete", "merge", "into", "copy", "truncate"};
    for (std::size_t k = 0; k < sql.size(); ++k) {
        char c = sql[k] | 0x20;  // ASCII lower case for letters
        if (c != 'i' && c != 'u' && c != 'd' && c != 'm' && c != 'c' && c != 't') continue;
        for (std::string_view w : words)
            if (w[0] == c && equals_ci(sql.substr(k, w.size()), w)) return false;
    }
    return true;
}

namespace {
// ASCII lower case without the C locale's call per character (SQL keywords are ASCII).
inline char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? char(c + ('a' - 'A')) : c; }
}  // namespace

bool equals_ci(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

bool contains_ci(std::string_view hay, std::string_view needle) noexcept {
    if (needle.empty()) return true;
    if (needle.size() > hay.size()) return false;
    const char first = ascii_lower(needle[0]);
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i)
        if (ascii_lower(hay[i]) == first && equals_ci(hay.substr(i, needle.size()), needle)) return true;
    return false;
}

bool may_call_functions(std::string_view sql) noexcept {
    // Keywords that take a parenthesis, and read-only built-ins.
    static constexpr std::string_view allowed[] = {
        "ALL", "AND", "ANY", "ARRAY", "AS", "AVG", "BETWEEN", "BOOL_AND", "BOOL_OR", "BY", "CASE", "CAST",
        "CEIL", "CHAR_LENGTH", "COALESCE", "CONCAT", "COUNT", "CUBE", "CURRENT_SETTING", "DATE_PART",
        "DATE_TRUNC", "DISTINCT", "EXISTS", "EXTRACT", "FILTER", "FLOOR", "FROM", "GREATEST", "GROUPING",
        "IN", "INTO", "JOIN", "JSONB_AGG", "JSON_AGG", "LATERAL", "LEAST", "LEFT", "LENGTH", "LIKE", "LIMIT",
        "LOWER", "MAX", "MIN", "NOT", "NOW", "NULLIF", "NUMERIC", "ON", "OR", "OVER", "POSITION", "RIGHT",
        "ROUND", "ROW", "ROLLUP", "SELECT", "SETS", "SOME", "SPLIT_PART", "STRING_AGG", "SUBSTR", "SUBSTRING",
        "SUM", "TO_CHAR", "TRIM", "TRUNC", "UNION", "UPPER", "USING", "VALUES", "VARCHAR", "WHERE", "WITH",
        "WITHIN", "ABS", "ARRAY_AGG", "ARRAY_LENGTH", "UNNEST", "GENERATE_SERIES", "ROW_NUMBER", "RANK",
        "DENSE_RANK", "LAG", "LEAD", "FIRST_VALUE", "LAST_VALUE", "STDDEV", "VARIANCE", "MOD", "REPLACE",
        "MD5", "ENCODE", "DECODE", "FORMAT", "AGE", "INTERVAL", "TIMESTAMP", "DATE", "TIME", "INT", "INTEGER",
        "BIGINT", "TEXT", "BOOLEAN", "PG_SLEEP", "VERSION", "CURRENT_DATE", "CURRENT_TIMESTAMP", "TRANSLATE",
        "SET", "CONFLICT", "RETURNING",  // UPDATE … SET (a, b) = …, ON CONFLICT (k), RETURNING (x)
    };
    auto ident = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80;
    };
    // The end of a quoted identifier or literal starting at sql[i] (quote c).
    auto quoted_end = [&](std::size_t i, char c) {
        std::size_t j = i + 1;
        while (j < sql.size()) {
            if (sql[j] == c) {
                if (j + 1 < sql.size() && sql[j + 1] == c) {
                    j += 2;
                    continue;
                }
                break;
            }
            if (c == '\'' && sql[j] == '\\') ++j;  // E'' escapes; harmless for plain strings
            ++j;
        }
        return j + 1;
    };
    // After INTO: the table, maybe "AS alias", then "(" opens its column
    // list, not a call. 1: INTO seen; 2: its name; 3: AS; 4: the alias.
    int into = 0;
    std::size_t i = 0;
    while (i < sql.size()) {
        std::size_t after = skip_blank(sql, i);
        if (after != i) {
            i = after;
            continue;
        }
        char c = sql[i];
        if (c == '\'') {  // a literal
            i = quoted_end(i, c);
            into = 0;
            continue;
        }
        if (c == '$') {
            // $1: a parameter. Anything else is a dollar quote: a function
            // body in a SELECT is rare; be careful.
            if (i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
                for (++i; i < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i])); ++i) {
                }
                into = 0;
                continue;
            }
            return true;
        }
        if (c == '"' || (ident(c) && !std::isdigit(static_cast<unsigned char>(c)))) {
            // A name, qualified or not, each part quoted or not.
            bool quoted = false;
            std::size_t j = i;
            for (;;) {
                if (j < sql.size() && sql[j] == '"') {
                    j = quoted_end(j, '"');
                    quoted = true;
                } else {
                    while (j < sql.size() && ident(sql[j])) ++j;
                }
                if (j < sql.size() && sql[j] == '.' && j + 1 < sql.size() && (sql[j + 1] == '"' || ident(sql[j + 1]))) {
                    ++j;
                    continue;
                }
                break;
            }
            j = std::min(j, sql.size());
            std::string_view word = sql.substr(i, j - i);
            if (!quoted && equals_ci(word, "into")) into = 1;
            else if (into == 1) into = 2;
            else if (into == 2 && !quoted && equals_ci(word, "as")) into = 3;
            else if (into == 3) into = 4;
            else into = 0;
            std::size_t k = skip_blank(sql, j);
            i = j;
            if (k >= sql.size() || sql[k] != '(') continue;
            if (into == 2 || into == 4) {  // INSERT INTO t (a, b): the column list
                into = 0;
                continue;
            }
            if (quoted) return true;  // "name"( calls a function with a quoted name
            if (word.find('.') != std::string_view::npos) {
                // Only pg_catalog.<allowed> is known.
                if (word.size() < 11 || !equals_ci(word.substr(0, 11), "pg_catalog.")) return true;
                word.remove_prefix(11);
            }
            if (std::none_of(std::begin(allowed), std::end(allowed),
                             [&](std::string_view a) { return equals_ci(word, a); }))
                return true;
            continue;
        }
        into = 0;
        ++i;
    }
    return false;
}

struct analysis_cache::shaped {
    std::shared_ptr<const sql_shape> shape;
    std::shared_ptr<const analysis> a;
};

namespace {

// Whether an analysis depends on nothing but the shape of its text: every
// statement of a kind whose analysis reads no literal, and every position in
// it at a token's edge.
bool shape_independent(const analysis& a, const sql_shape& sh) {
    if (!a.ok) return false;
    for (const auto& s : a.statements) {
        switch (s.kind) {
            case statement_kind::read:
            case statement_kind::insert:
            case statement_kind::update:
            case statement_kind::del:
            case statement_kind::begin:
            case statement_kind::commit:
            case statement_kind::rollback: break;
            default: return false;
        }
        if (s.inner || !s.name.empty() || s.target_location != statement::npos) return false;
        if (!map_offset(sh, sh, s.location) || !map_offset(sh, sh, s.location + s.length)) return false;
        for (auto star : s.returning_stars)
            if (!map_offset(sh, sh, s.location + star)) return false;
        for (auto lit : s.value_literals)
            if (!map_offset(sh, sh, s.location + lit)) return false;
    }
    return true;
}

// The analysis of a text of shape `to`, from that of a text of shape `from`.
std::optional<analysis> move_analysis(const analysis& a, const sql_shape& from, const sql_shape& to) {
    analysis out = a;
    for (auto& s : out.statements) {
        auto b = map_offset(from, to, s.location);
        auto e = map_offset(from, to, s.location + s.length);
        if (!b || !e || *e < *b) return std::nullopt;
        for (auto& star : s.returning_stars) {
            auto at = map_offset(from, to, s.location + star);
            if (!at || *at < *b) return std::nullopt;
            star = *at - *b;
        }
        for (auto& lit : s.value_literals) {
            auto at = map_offset(from, to, s.location + lit);
            if (!at || *at < *b) return std::nullopt;
            lit = *at - *b;
        }
        s.location = *b;
        s.length = *e - *b;
    }
    return out;
}

}  // namespace

std::shared_ptr<const analysis> analysis_cache::get(std::string_view sql, std::shared_ptr<const sql_shape>* shape_out) {
    if (shape_out) shape_out->reset();
    if (auto* x = exact_.find(sql)) {
        ++hits_;
        if (shape_out) *shape_out = x->shape;
        return x->a;
    }
    if (sql.size() > max_text_) {  // huge texts are not kept
        ++misses_;
        return std::make_shared<const analysis>(analyze(sql));
    }
    std::shared_ptr<const sql_shape> shape;
    if (auto sh = shape_of(sql)) shape = std::make_shared<const sql_shape>(std::move(*sh));
    if (shape_out) *shape_out = shape;
    if (shape) {
        if (const auto* s = shapes_.find(shape->key)) {
            if (auto moved = move_analysis(*(*s)->a, *(*s)->shape, *shape)) {
                ++shape_hits_;
                return std::make_shared<const analysis>(std::move(*moved));
            }
        }
    }
    ++misses_;
    auto a = std::make_shared<const analysis>(analyze(sql));
    exact_.put(std::string(sql), exact{a, shape});
    if (shape && shape_independent(*a, *shape)) {
        std::string key = shape->key;
        shapes_.put(std::move(key), std::make_shared<const shaped>(shaped{shape, a}));
    }
    return a;
}

}  // namespace sqltap::capture
