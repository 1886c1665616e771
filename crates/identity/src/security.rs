//! Keystone's `[security_compliance]`: lockout after failed authentications,
//! password expiry, history, minimum age, a required pattern, change upon
//! first use, inactivity; and the user options that exempt a user.

use chrono::Duration;
use rustack_common::time::{iso_micro, now, parse_iso};
use rustack_common::{Error, ErrorKind};
use serde_json::{Map, Value};

use crate::model::User;
use crate::Identity;

/// The user options Keystone knows, and whether each is a boolean.
const USER_OPTIONS: &[(&str, bool)] = &[
    ("ignore_change_password_upon_first_use", true),
    ("ignore_password_expiry", true),
    ("ignore_lockout_failure_attempts", true),
    ("lock_password", true),
    ("ignore_user_inactivity", true),
    ("multi_factor_auth_enabled", true),
    ("multi_factor_auth_rules", false),
];

/// Checks `options` from a user body; null removes an option.
pub fn merge_user_options(current: &Map<String, Value>, given: &Value) -> Result<Map<String, Value>, Error> {
    let given = given
        .as_object()
        .ok_or_else(|| Error::bad_request("Invalid input for field 'user.options': expected an object."))?;
    let mut out = current.clone();
    for (k, v) in given {
        let Some((_, is_bool)) = USER_OPTIONS.iter().find(|(n, _)| n == k) else {
            return Err(Error::bad_request(format!("Invalid input for field 'user.options': unknown option '{k}'.")));
        };
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let ok = if *is_bool {
            v.is_boolean()
        } else {
            // multi_factor_auth_rules: a list of lists of method names
            v.as_array().is_some_and(|rules| {
                rules.iter().all(|r| r.as_array().is_some_and(|m| !m.is_empty() && m.iter().all(Value::is_string)))
            })
        };
        if !ok {
            return Err(Error::bad_request(format!("Invalid input for field 'user.options.{k}': wrong type.")));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

fn password_error(message: String) -> Error {
    Error::bad_request(format!("Password validation error: {message}"))
}

impl Identity {
    fn days(n: u32) -> Duration {
        Duration::days(n as i64)
    }

    /// Refuses a password longer than allowed (403, as Keystone) or not
    /// matching `password_regex` (400).
    pub fn check_password_rules(&self, password: &str) -> Result<(), Error> {
        let max = self.config().max_password_length;
        if password.len() > max {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("The password length must be less than or equal to {max}. The server could not comply with the request because the password is invalid."),
            ));
        }
        let sc = &self.config().security;
        if let Some(re) = &sc.password_regex {
            let ok = regex::Regex::new(re).map(|r| r.is_match(password)).unwrap_or(false);
            if !ok {
                let why = sc.password_regex_description.clone().unwrap_or_else(|| format!("it must match {re}"));
                return Err(Error::bad_request(format!("The password does not match the requirements: {why}.")));
            }
        }
        Ok(())
    }

    /// When a password set now expires: at once when an administrator set it
    /// and change upon first use applies, else after `password_expires_days`.
    pub fn password_expiry(&self, user: &User, set_by_admin: bool) -> Option<String> {
        let sc = &self.config().security;
        if set_by_admin && sc.change_password_upon_first_use && !user.option("ignore_change_password_upon_first_use") {
            return Some(iso_micro(&now()));
        }
        if sc.password_expires_days > 0 && !user.option("ignore_password_expiry") {
            return Some(iso_micro(&(now() + Self::days(sc.password_expires_days))));
        }
        None
    }

    /// Hashes and stores a new password. A user changing their own password
    /// (`self_service`) is also held to the minimum age and the history.
    pub async fn set_user_password(&self, user: &User, password: &str, self_service: bool) -> Result<(), Error> {
        self.check_password_rules(password)?;
        let sc = self.config().security.clone();
        if self_service {
            if user.option("lock_password") {
                return Err(password_error("You cannot change your password at this time due to password policy disallowing password changes. Please contact your administrator to reset your password.".into()));
            }
            if sc.minimum_password_age > 0 {
                if let Some(set) = user.security.password_created_at.as_deref().and_then(parse_iso) {
                    let ready = set + Self::days(sc.minimum_password_age);
                    if ready > now() {
                        let left = (ready - now()).num_days() + 1;
                        return Err(password_error(format!(
                            "You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for {} day(s) before it can be changed. Please try again in {left} day(s) or contact your administrator to reset your password.",
                            sc.minimum_password_age
                        )));
                    }
                }
            }
            if sc.unique_last_password_count > 0 {
                // the current password counts among the last N
                let n = sc.unique_last_password_count as usize;
                for old in self.store().password_history(&user.id, n).await? {
                    if self.verify_password(password, &old).await? {
                        return Err(password_error(format!(
                            "The new password cannot be identical to a previous password. The total number which includes the new password must be unique is {}.",
                            sc.unique_last_password_count
                        )));
                    }
                }
            }
        }
        let hash = self.hash_password(password).await?;
        let expires = self.password_expiry(user, !self_service);
        self.store().set_password(&user.id, &hash, expires.as_deref()).await?;
        self.revoke_user_tokens(&user.id).await
    }

    /// Before checking a password: is the user locked out?
    pub(crate) fn check_not_locked(&self, user: &User) -> Result<(), Error> {
        let sc = &self.config().security;
        if sc.lockout_failure_attempts == 0 || user.option("ignore_lockout_failure_attempts") {
            return Ok(());
        }
        if user.security.failed_auth_count >= sc.lockout_failure_attempts as i64 {
            let last = user.security.failed_auth_at.as_deref().and_then(parse_iso);
            if last.is_some_and(|t| t + Duration::seconds(sc.lockout_duration as i64) > now()) {
                return Err(Error::unauthorized(format!("The account is locked for user: {}.", user.id)));
            }
        }
        Ok(())
    }

    /// Records the outcome of a password check; on success, also applies
    /// expiry (unless `allow_expired`, for a password change) and inactivity.
    pub(crate) async fn after_password_check(&self, user: &User, ok: bool, allow_expired: bool) -> Result<(), Error> {
        let sc = self.config().security.clone();
        if !ok {
            if sc.lockout_failure_attempts > 0 {
                self.store().record_auth_failure(&user.id).await?;
            }
            return Err(Error::unauthorized("The request you have made requires authentication."));
        }
        if sc.disable_user_account_days_inactive > 0 && !user.option("ignore_user_inactivity") {
            let last = user
                .security
                .last_active_at
                .as_deref()
                .and_then(|d| parse_iso(&format!("{d}T00:00:00Z")).or_else(|| parse_iso(d)));
            if last.is_some_and(|t| t + Self::days(sc.disable_user_account_days_inactive) < now()) {
                let mut u = user.clone();
                u.enabled = false;
                self.store().update_user(&u).await?;
                self.revoke_user_tokens(&u.id).await?;
                return Err(Error::unauthorized(format!("The account is disabled for user: {}.", user.id)));
            }
        }
        let today = now().format("%Y-%m-%d").to_string();
        if user.security.failed_auth_count != 0 || user.security.last_active_at.as_deref() != Some(today.as_str()) {
            self.store().record_auth_success(&user.id, &today).await?;
        }
        if !allow_expired && !user.option("ignore_password_expiry") {
            if let Some(exp) = user.password_expires_at.as_deref().and_then(parse_iso) {
                if exp <= now() {
                    return Err(Error::unauthorized(format!(
                        "The password is expired and needs to be changed for user: {}.",
                        user.id
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_options_are_checked_and_merged() {
        let cur = Map::new();
        let m = merge_user_options(
            &cur,
            &json!({"ignore_password_expiry": true, "multi_factor_auth_rules": [["password", "totp"]]}),
        )
        .unwrap();
        assert_eq!(m["ignore_password_expiry"], json!(true));
        let m = merge_user_options(&m, &json!({"ignore_password_expiry": null})).unwrap();
        assert!(!m.contains_key("ignore_password_expiry"));
        assert!(merge_user_options(&cur, &json!({"nonsense": true})).is_err());
        assert!(merge_user_options(&cur, &json!({"lock_password": "yes"})).is_err());
        assert!(merge_user_options(&cur, &json!({"multi_factor_auth_rules": [[]]})).is_err());
        assert!(merge_user_options(&cur, &json!([1])).is_err());
    }
}
