//! The `users` and `user_roles` tables.

use std::collections::HashSet;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    Connection, QueryBuilder, Row, at, is_unique_violation, ms, opt_at, opt_ms, query, query_owned,
    uuid,
};
use crate::domain::directory::{
    NewUser, User, UserCondition, UserField, UserQuery, UserRef, UserSearch, upn_key,
};
use crate::domain::role::Roles;
use crate::{Error, Result};

pub(super) const COLUMNS: &str = "u.id, u.user_principal_name, u.display_name, u.given_name, u.surname, u.mail, \
    u.other_mails, u.personal_email, u.preferred_language, u.account_enabled, u.source, u.anchor, u.manager_id, u.employee_hire_date, \
    u.created_at, u.updated_at, \
    (SELECT string_agg(r.role, ',') FROM user_roles r WHERE r.user_id = u.id) AS roles";

pub(super) fn from_row(row: &Row) -> Result<User> {
    let other_mails: String = row.try_get("other_mails")?;
    let roles: Option<String> = row.try_get("roles")?;
    let manager: Option<String> = row.try_get("manager_id")?;
    Ok(User {
        id: uuid(row.try_get("id")?)?,
        user_principal_name: row.try_get("user_principal_name")?,
        display_name: row.try_get("display_name")?,
        given_name: row.try_get("given_name")?,
        surname: row.try_get("surname")?,
        mail: row.try_get("mail")?,
        other_mails: serde_json::from_str(&other_mails)
            .map_err(|e| Error::Internal(format!("corrupt other_mails: {e}")))?,
        personal_email: row.try_get("personal_email")?,
        preferred_language: row.try_get("preferred_language")?,
        account_enabled: row.try_get("account_enabled")?,
        source: row.try_get("source")?,
        anchor: row.try_get("anchor")?,
        manager_id: manager.as_deref().map(uuid).transpose()?,
        employee_hire_date: opt_at(row.try_get("employee_hire_date")?),
        roles: Roles::from_csv(roles.as_deref().unwrap_or("")).map_err(Error::Internal)?,
        created_at: at(row.try_get("created_at")?),
        updated_at: at(row.try_get("updated_at")?),
    })
}

/// Inserts a user. A taken user principal name (any case) or anchor is a `Conflict`.
pub async fn insert(conn: &mut Connection, new: &NewUser, now: OffsetDateTime) -> Result<User> {
    let id = crate::domain::directory::new_object_id();
    let inserted = insert_rows(conn, &[(id, new)], now).await?;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict(format!(
                "a user with userPrincipalName `{}` or the same source anchor already exists",
                new.user_principal_name
            )));
        }
        Err(e) => return Err(e.into()),
    }
    // A new user has no roles to clear, and is exactly what was written: no second read.
    insert_roles(conn, id, &new.roles).await?;
    Ok(written(id, new, now))
}

/// The user a row just written holds, without reading it back.
fn written(id: Uuid, new: &NewUser, now: OffsetDateTime) -> User {
    moved_in(id, new.clone(), now)
}

/// Inserts many users without roles in a few statements (a directory import's batch). A
/// unique violation fails the statement; the caller's savepoint decides what then.
pub async fn insert_many(
    conn: &mut Connection,
    news: Vec<(Uuid, NewUser)>,
    now: OffsetDateTime,
) -> Result<Vec<User>> {
    if news.iter().any(|(_, n)| !n.roles.is_empty()) {
        return Err(Error::Internal("insert_many writes no roles".into()));
    }
    let rows: Vec<(Uuid, &NewUser)> = news.iter().map(|(id, n)| (*id, n)).collect();
    match insert_rows(conn, &rows, now).await? {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict(
                "a user with one of these userPrincipalNames or anchors already exists".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(news
        .into_iter()
        .map(|(id, n)| moved_in(id, n, now))
        .collect())
}

/// The user a row just written holds, made of the profile it was written from.
fn moved_in(id: Uuid, new: NewUser, now: OffsetDateTime) -> User {
    let now = at(ms(now));
    User {
        id,
        user_principal_name: new.user_principal_name,
        display_name: new.display_name,
        given_name: new.given_name,
        surname: new.surname,
        mail: new.mail,
        other_mails: new.other_mails,
        personal_email: new.personal_email,
        preferred_language: new.preferred_language,
        account_enabled: new.account_enabled,
        source: new.source,
        anchor: new.anchor,
        manager_id: new.manager_id,
        employee_hire_date: new.employee_hire_date.map(|d| at(ms(d))),
        roles: new.roles,
        created_at: now,
        updated_at: now,
    }
}

/// The `users` rows for `rows`, 1000 to a statement (17 parameters a row, under SQLite's
/// 32766). The outer error is ours; the inner one is the database's, for the caller to name.
async fn insert_rows(
    conn: &mut Connection,
    rows: &[(Uuid, &NewUser)],
    now: OffsetDateTime,
) -> Result<std::result::Result<(), sqlx::Error>> {
    for chunk in rows.chunks(1000) {
        let mut encoded = Vec::with_capacity(chunk.len());
        for (id, new) in chunk {
            let other_mails = serde_json::to_string(&new.other_mails)
                .map_err(|e| Error::Internal(e.to_string()))?;
            encoded.push((id, *new, other_mails));
        }
        let mut qb: QueryBuilder = QueryBuilder::new(
            "INSERT INTO users (id, user_principal_name, upn_key, display_name, given_name, surname, mail,
                other_mails, personal_email, preferred_language, account_enabled, source, anchor, manager_id,
                employee_hire_date, created_at, updated_at) ",
        );
        qb.push_values(encoded, |b, (id, new, other_mails)| {
            b.push_bind(id.to_string())
                .push_bind(&new.user_principal_name)
                .push_bind(upn_key(&new.user_principal_name))
                .push_bind(&new.display_name)
                .push_bind(&new.given_name)
                .push_bind(&new.surname)
                .push_bind(&new.mail)
                .push_bind(other_mails)
                .push_bind(&new.personal_email)
                .push_bind(&new.preferred_language)
                .push_bind(new.account_enabled)
                .push_bind(&new.source)
                .push_bind(&new.anchor)
                .push_bind(new.manager_id.map(|m| m.to_string()))
                .push_bind(opt_ms(new.employee_hire_date))
                .push_bind(ms(now))
                .push_bind(ms(now));
        });
        if let Err(e) = qb.build().execute(&mut *conn).await {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

/// Which of these UPNs are taken (compared as the unique index compares them).
pub async fn taken_upns(conn: &mut Connection, upns: &[&str]) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in upns.chunks(2000) {
        let mut qb: QueryBuilder =
            QueryBuilder::new("SELECT upn_key FROM users WHERE upn_key IN (");
        qb.push_list(chunk.iter().map(|u| upn_key(u))).push(")");
        let rows: Vec<String> = qb.build().scalars(&mut *conn).await?;
        out.extend(rows);
    }
    Ok(out)
}

/// User principal names by id, for audit records of many users at once.
pub async fn principal_names(
    conn: &mut Connection,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(2000) {
        let mut qb: QueryBuilder =
            QueryBuilder::new("SELECT id, user_principal_name FROM users WHERE id IN (");
        qb.push_list(chunk.iter().map(|id| id.to_string()))
            .push(")");
        for row in qb.build().fetch_all(&mut *conn).await? {
            out.insert(
                uuid(row.try_get("id")?)?,
                row.try_get("user_principal_name")?,
            );
        }
    }
    Ok(out)
}

async fn insert_roles(conn: &mut Connection, user_id: Uuid, roles: &Roles) -> Result<()> {
    for role in roles.iter() {
        query("INSERT INTO user_roles (user_id, role) VALUES (?, ?)")
            .bind(user_id.to_string())
            .bind(role.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Replaces every profile field of user `id` with `new`'s (source, roles and creation time
/// stay). Returns the updated user, `None` if there is no such user.
pub async fn update(
    conn: &mut Connection,
    id: Uuid,
    new: &NewUser,
    now: OffsetDateTime,
) -> Result<Option<User>> {
    let other_mails =
        serde_json::to_string(&new.other_mails).map_err(|e| Error::Internal(e.to_string()))?;
    let res = query(
        "UPDATE users SET user_principal_name = ?, upn_key = ?, display_name = ?, given_name = ?, surname = ?,
            mail = ?, other_mails = ?, personal_email = ?, preferred_language = ?, account_enabled = ?, anchor = ?, manager_id = ?,
            employee_hire_date = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(&new.user_principal_name)
    .bind(upn_key(&new.user_principal_name))
    .bind(&new.display_name)
    .bind(&new.given_name)
    .bind(&new.surname)
    .bind(&new.mail)
    .bind(other_mails)
    .bind(&new.personal_email)
    .bind(&new.preferred_language)
    .bind(new.account_enabled)
    .bind(&new.anchor)
    .bind(new.manager_id.map(|m| m.to_string()))
    .bind(opt_ms(new.employee_hire_date))
    .bind(ms(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await;
    match res {
        Ok(0) => Ok(None),
        Ok(_) => get(conn, id).await,
        Err(e) if is_unique_violation(&e) => Err(Error::Conflict(format!(
            "a user with userPrincipalName `{}` or the same source anchor already exists",
            new.user_principal_name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a user; memberships, passes and other dependent rows go with it (foreign keys).
pub async fn delete(conn: &mut Connection, id: Uuid) -> Result<bool> {
    let res = query("DELETE FROM users WHERE id = ?")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(res == 1)
}

pub async fn set_roles(conn: &mut Connection, user_id: Uuid, roles: &Roles) -> Result<()> {
    query("DELETE FROM user_roles WHERE user_id = ?")
        .bind(user_id.to_string())
        .execute(&mut *conn)
        .await?;
    insert_roles(conn, user_id, roles).await
}

pub async fn get(conn: &mut Connection, id: Uuid) -> Result<Option<User>> {
    let sql = select_where("WHERE u.id = ?");
    let row = query_owned(sql)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get_by_upn(conn: &mut Connection, upn: &str) -> Result<Option<User>> {
    let sql = select_where("WHERE u.upn_key = ?");
    let row = query_owned(sql)
        .bind(upn_key(upn))
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The one user whose `mail` is `mail` (ASCII case-insensitive); `None` if none or several
/// have it, so that an ambiguous address never picks a user.
pub async fn get_by_mail(conn: &mut Connection, mail: &str) -> Result<Option<User>> {
    let sql = select_where("WHERE lower(u.mail) = ? LIMIT 2");
    let rows = query_owned(sql)
        .bind(mail.to_ascii_lowercase())
        .fetch_all(&mut *conn)
        .await?;
    match rows.as_slice() {
        [one] => Ok(Some(from_row(one)?)),
        _ => Ok(None),
    }
}

pub async fn find(conn: &mut Connection, user: &UserRef) -> Result<Option<User>> {
    match user {
        UserRef::Id(id) => get(conn, *id).await,
        UserRef::Upn(upn) => get_by_upn(conn, upn).await,
    }
}

fn select_where(clause: &str) -> String {
    format!("SELECT {COLUMNS} FROM users u {clause}")
}

/// Users matching every condition, ordered by user principal name (case-insensitive).
pub async fn list(conn: &mut Connection, query: &UserQuery) -> Result<Vec<User>> {
    let mut qb: QueryBuilder =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM users u WHERE 1=1"));
    for cond in &query.conditions {
        let (field, value, prefix) = match cond {
            UserCondition::Equals(f, v) => (*f, v, false),
            UserCondition::StartsWith(f, v) => (*f, v, true),
        };
        let column = match field {
            UserField::Id => "u.id",
            UserField::UserPrincipalName => "u.upn_key",
            UserField::DisplayName => "lower(u.display_name)",
            UserField::Mail => "lower(u.mail)",
            UserField::AccountEnabled => "u.account_enabled",
        };
        qb.push(" AND ").push(column);
        if field == UserField::AccountEnabled {
            qb.push(" = ").push_bind(value == "true");
            continue;
        }
        let value = value.to_lowercase();
        if prefix {
            // Prefix match on an index-friendly range instead of LIKE, whose wildcards the
            // value would have to escape.
            qb.push(" >= ").push_bind(value.clone());
            qb.push(" AND ")
                .push(column)
                .push(" < ")
                .push_bind(format!("{value}\u{10FFFF}"));
        } else {
            qb.push(" = ").push_bind(value);
        }
    }
    if let Some(after) = &query.after {
        qb.push(" AND u.upn_key > ").push_bind(after.clone());
    }
    qb.push(" ORDER BY u.upn_key LIMIT ")
        .push_bind(i64::from(query.limit.max(1)));
    let rows = qb.build().fetch_all(&mut *conn).await?;
    rows.iter().map(from_row).collect()
}

/// `value` as a LIKE pattern that matches it literally (escape character `\`).
fn like_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The WHERE clause of a search (after `WHERE `).
fn push_search(qb: &mut QueryBuilder, search: &UserSearch) {
    match search {
        UserSearch::All => {
            qb.push("1=1");
        }
        UserSearch::Text(text) => {
            // lower() folds ASCII only in SQLite; the user principal name key is folded in
            // full, and the display name is also compared as typed, so "Ümit" finds "Ümit".
            let folded = like_literal(&text.to_lowercase());
            let typed = like_literal(text);
            qb.push("u.upn_key LIKE ")
                .push_bind(format!("{folded}%"))
                .push(" ESCAPE '\\' OR lower(u.display_name) LIKE ")
                .push_bind(format!("{folded}%"))
                .push(" ESCAPE '\\' OR lower(u.display_name) LIKE ")
                .push_bind(format!("% {folded}%"))
                .push(" ESCAPE '\\' OR u.display_name LIKE ")
                .push_bind(format!("{typed}%"))
                .push(" ESCAPE '\\' OR u.display_name LIKE ")
                .push_bind(format!("% {typed}%"))
                .push(" ESCAPE '\\' OR lower(u.mail) LIKE ")
                .push_bind(format!("{folded}%"))
                .push(" ESCAPE '\\'");
        }
        UserSearch::Domain(domain) => {
            let pattern = format!("%@{}%", like_literal(domain));
            qb.push("u.upn_key LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR lower(u.mail) LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
    }
}

/// Users matching an administrator's search, by user principal name, at most `limit` of
/// them, and how many match in all.
pub async fn search_users(
    conn: &mut Connection,
    search: &UserSearch,
    limit: u32,
) -> Result<(Vec<User>, u64)> {
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM users u WHERE "));
    push_search(&mut qb, search);
    qb.push(" ORDER BY u.upn_key LIMIT ")
        .push_bind(i64::from(limit.max(1)));
    let rows = qb.build().fetch_all(&mut *conn).await?;
    let users = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    let mut count = QueryBuilder::new("SELECT count(*) FROM users u WHERE ");
    push_search(&mut count, search);
    let total: i64 = count.build().scalar(&mut *conn).await?;
    Ok((users, u64::try_from(total).unwrap_or(0)))
}

/// Every user owned by `source`, by user principal name.
pub async fn by_source(conn: &mut Connection, source: &str) -> Result<Vec<User>> {
    let sql = select_where("WHERE u.source = ? ORDER BY u.upn_key");
    let rows = query_owned(sql).bind(source).fetch_all(&mut *conn).await?;
    rows.iter().map(from_row).collect()
}

/// The direct members of a group, by user principal name.
pub async fn members_of(conn: &mut Connection, group_id: Uuid) -> Result<Vec<User>> {
    let sql = select_where(
        "WHERE u.id IN (SELECT user_id FROM group_members WHERE group_id = ?) ORDER BY u.upn_key",
    );
    let rows = query_owned(sql)
        .bind(group_id.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The groups `user_id` belongs to directly.
pub async fn group_ids(conn: &mut Connection, user_id: Uuid) -> Result<HashSet<Uuid>> {
    let rows: Vec<String> = query("SELECT group_id FROM group_members WHERE user_id = ?")
        .bind(user_id.to_string())
        .scalars(&mut *conn)
        .await?;
    rows.iter().map(|s| uuid(s)).collect()
}

pub async fn count(conn: &mut Connection) -> Result<i64> {
    Ok(query("SELECT count(*) FROM users")
        .scalar(&mut *conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use crate::domain::role::Role;

    fn new(upn: &str) -> NewUser {
        NewUser {
            user_principal_name: upn.into(),
            account_enabled: true,
            ..Default::default()
        }
        .normalised()
        .unwrap()
    }

    #[tokio::test]
    async fn insert_get_and_case_insensitive_uniqueness() {
        let (store, _d) = testing::store().await;
        let mut c = store.read().await.unwrap();
        let now = OffsetDateTime::now_utc();
        let mut ada = new("Ada@Example.com");
        ada.other_mails = vec!["ada@home.example".into()];
        ada.roles = Roles::new([Role::Reader, Role::UserAdministrator]);
        let u = insert(&mut c, &ada, now).await.unwrap();
        assert_eq!(u.user_principal_name, "Ada@Example.com");
        assert_eq!(u.other_mails, vec!["ada@home.example"]);
        assert!(u.roles.contains(Role::Reader) && u.is_admin());
        assert_eq!(
            get_by_upn(&mut c, "ada@EXAMPLE.com")
                .await
                .unwrap()
                .unwrap()
                .id,
            u.id
        );
        assert!(matches!(
            insert(&mut c, &new("ADA@example.COM"), now).await,
            Err(Error::Conflict(_))
        ));
        assert!(get(&mut c, Uuid::new_v4()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn list_filters_and_pages() {
        let (store, _d) = testing::store().await;
        let mut c = store.read().await.unwrap();
        let now = OffsetDateTime::now_utc();
        for upn in ["b@x.io", "a@x.io", "c@y.io", "a%_@x.io"] {
            insert(&mut c, &new(upn), now).await.unwrap();
        }
        let q = |conditions, after: Option<&str>, limit| UserQuery {
            conditions,
            after: after.map(str::to_owned),
            limit,
        };
        let upns = |users: Vec<User>| {
            users
                .into_iter()
                .map(|u| u.user_principal_name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            upns(list(&mut c, &q(vec![], None, 10)).await.unwrap()),
            ["a%_@x.io", "a@x.io", "b@x.io", "c@y.io"]
        );
        assert_eq!(
            upns(list(&mut c, &q(vec![], Some("a@x.io"), 1)).await.unwrap()),
            ["b@x.io"]
        );
        let eq = vec![UserCondition::Equals(
            UserField::UserPrincipalName,
            "B@X.IO".into(),
        )];
        assert_eq!(
            upns(list(&mut c, &q(eq, None, 10)).await.unwrap()),
            ["b@x.io"]
        );
        let sw = vec![UserCondition::StartsWith(
            UserField::UserPrincipalName,
            "a%".into(),
        )];
        assert_eq!(
            upns(list(&mut c, &q(sw, None, 10)).await.unwrap()),
            ["a%_@x.io"]
        );
    }

    #[tokio::test]
    async fn search_by_name_word_mail_and_domain_with_a_count() {
        let (store, _d) = testing::store().await;
        let mut c = store.read().await.unwrap();
        let now = OffsetDateTime::now_utc();
        for (upn, name, mail) in [
            ("ada@x.io", "Ada Lovelace", "ada@mail.x.io"),
            ("jm@x.io", "Jürgen Müller", "juergen@corp.example"),
            ("um@y.io", "Ümit Yılmaz", "umit@corp.example"),
            ("p_c@y.io", "Percent 100%", "pc@y.io"),
        ] {
            let mut u = new(upn);
            u.display_name = Some(name.into());
            u.mail = Some(mail.into());
            insert(&mut c, &u, now).await.unwrap();
        }
        drop(c);
        let store = &store;
        let found = |s: &str, limit| {
            let search = UserSearch::parse(s);
            async move {
                let mut c = store.read().await.unwrap();
                let (users, total) = search_users(&mut c, &search, limit).await.unwrap();
                let upns: Vec<String> = users.into_iter().map(|u| u.user_principal_name).collect();
                (upns, total)
            }
        };
        assert_eq!(found("", 10).await.1, 4);
        assert_eq!(found("ada", 10).await, (vec!["ada@x.io".into()], 1));
        assert_eq!(found("müller", 10).await.0, ["jm@x.io"], "a later word");
        assert_eq!(found("jürgen", 10).await.0, ["jm@x.io"], "non-ASCII");
        assert_eq!(found("Ümit", 10).await.0, ["um@y.io"], "as typed");
        assert_eq!(found("juergen@", 10).await.0, ["jm@x.io"], "mail");
        assert_eq!(
            found("@corp.example", 10).await.0,
            ["jm@x.io", "um@y.io"],
            "mail domain"
        );
        assert_eq!(found("@Y.io", 1).await, (vec!["p_c@y.io".into()], 2));
        assert_eq!(
            found("p_", 10).await.0,
            ["p_c@y.io"],
            "wildcards are literal"
        );
        assert_eq!(found("%", 10).await.1, 0);
        assert_eq!(found("nobody", 10).await.1, 0);
    }
}
