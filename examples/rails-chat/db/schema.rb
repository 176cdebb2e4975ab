ActiveRecord::Schema.define(version: 1) do
  create_table :users do |t|
    t.string :name, null: false, index: { unique: true }
    t.string :password, null: false
  end
  # a chat: one-to-one (kind "User") or a group (kind "Group")
  create_table :chats do |t|
    t.string :kind, null: false
    t.string :name
    t.string :pair_key, index: { unique: true } # "<low user id>-<high user id>" for one-to-one
  end
  create_table :memberships do |t|
    t.references :chat, null: false
    t.references :user, null: false
    t.index [:chat_id, :user_id], unique: true
  end
  # a signed-in period of a user: from login to logout, or to the cleanup of offline users
  create_table :chat_sessions do |t|
    t.references :user, null: false
    t.datetime :started_at, null: false
    t.datetime :ended_at
    t.string :ended_by
    t.datetime :offline_since # first seen offline by the cleanup (nil: online)
  end
  create_table :messages do |t|
    t.references :chat, null: false
    t.references :user, null: false
    t.references :chat_session, null: false
    t.text :body, null: false
    t.datetime :created_at, null: false
  end
end
