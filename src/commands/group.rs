use plugin::domain::directory::{NewGroup, UserRef};
use plugin::domain::timefmt::rfc3339;
use plugin::platform::Caller;
use serde_json::json;

use super::output;
use crate::cli::GroupCommand;
use crate::config::Config;
use crate::runtime;

pub async fn run(command: GroupCommand, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    let op = Caller::operator();
    match command {
        GroupCommand::Add { name, description } => {
            let group = platform
                .create_group(
                    &op,
                    NewGroup {
                        display_name: name,
                        description,
                        ..Default::default()
                    },
                )
                .await?;
            println!("added group {} ({})", group.display_name, group.id);
        }
        GroupCommand::AddMember { group, user } => {
            let group = platform.group_by_id_or_name(&op, &group).await?;
            let user = UserRef::parse(&user)?;
            platform.add_group_member(&op, group.id, &user).await?;
            println!("added {user} to {}", group.display_name);
        }
        GroupCommand::List { json } => {
            let groups = platform.groups(&op, None, u32::MAX).await?;
            if json {
                let items: Vec<_> = groups
                    .iter()
                    .map(|g| json!({"id": g.id, "displayName": g.display_name, "description": g.description, "source": g.source, "createdDateTime": rfc3339(g.created_at)}))
                    .collect();
                output::json(&json!(items));
            } else {
                let rows: Vec<Vec<String>> = groups
                    .iter()
                    .map(|g| {
                        vec![
                            g.display_name.clone(),
                            g.id.to_string(),
                            g.source.clone(),
                            output::opt(&g.description),
                        ]
                    })
                    .collect();
                output::table(&["NAME", "ID", "SOURCE", "DESCRIPTION"], &rows);
            }
        }
    }
    platform.store().close().await;
    Ok(())
}
