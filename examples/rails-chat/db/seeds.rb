# Seeded users (password "chat" for everyone) and one group with all of them.
names = %w[alice bob carol dave]
users = names.map { |n| User.create!(name: n, password: "chat") }
group = Chat.create!(kind: "Group", name: "Ops team")
users.each { |u| group.memberships.create!(user: u) }
