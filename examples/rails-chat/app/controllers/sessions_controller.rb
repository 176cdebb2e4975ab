class SessionsController < ApplicationController
  skip_before_action :require_login

  def new; end

  def create
    user = User.find_by(name: params[:name].to_s.strip.downcase)
    if user && ActiveSupport::SecurityUtils.secure_compare(user.password, params[:password].to_s)
      reset_session
      session[:user_id] = user.id
      session[:chat_session_id] = user.chat_sessions.create!(started_at: Time.current).id
      redirect_to "/"
    else
      flash.now[:alert] = "Unknown user or wrong password"
      render :new, status: :unauthorized
    end
  end

  # Logout ends the chat session; its transcript stays in the database.
  def destroy
    ChatSession.find_by(id: session[:chat_session_id])&.close!("logout")
    reset_session
    redirect_to "/login"
  end
end
