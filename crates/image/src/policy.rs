//! Glance's default policy (secure RBAC: admin, member and reader roles,
//! project ownership), overridable by `[oslo_policy] policy_file`.
//!
//! Targets carry `project_id` (the image owner) and `member_id` (the
//! caller's project when it is a member of the image). Visibility (public,
//! community, shared) is decided by the service before the rule, as Glance's
//! database layer does.

use rustack_policy::Policy;

const ADMIN: &str = "role:admin";
const ADMIN_OR_MEMBER: &str = "role:admin or (role:member and project_id:%(project_id)s)";
const ADMIN_OR_READER: &str = "role:admin or (role:reader and project_id:%(project_id)s)";

pub fn defaults() -> Policy {
    let visible_reader = "role:admin or role:reader";
    let rules: Vec<(&str, &str)> = vec![
        ("context_is_admin", ADMIN),
        ("add_image", "role:admin or (role:member and project_id:%(owner)s)"),
        ("get_image", visible_reader),
        ("get_images", "role:admin or role:reader"),
        ("modify_image", ADMIN_OR_MEMBER),
        ("publicize_image", ADMIN),
        ("communitize_image", ADMIN_OR_MEMBER),
        ("delete_image", ADMIN_OR_MEMBER),
        ("download_image", visible_reader),
        ("upload_image", ADMIN_OR_MEMBER),
        ("stage_image", ADMIN_OR_MEMBER),
        ("import_image", ADMIN_OR_MEMBER),
        ("deactivate", ADMIN_OR_MEMBER),
        ("reactivate", ADMIN_OR_MEMBER),
        ("add_member", ADMIN_OR_MEMBER),
        ("delete_member", ADMIN_OR_MEMBER),
        ("get_member", "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))"),
        ("get_members", "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))"),
        ("modify_member", "role:admin or (role:member and project_id:%(member_id)s)"),
        ("get_image_reader", ADMIN_OR_READER),
    ];
    Policy::from_defaults(&rules)
}
